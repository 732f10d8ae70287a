"""Image captioning RNNs: Show and Tell (Vinyals et al., CVPR 2015) and Show, Attend and Tell
(Xu et al., ICML 2015, soft attention).

A CNN encoder turns the image into a grid of L feature vectors a_i (B, L, D) and their mean.
- Show and Tell (``attention=False``): the projected mean feature is the LSTM's first input
  (step -1), then the word embeddings; the image is seen once, at the start.
- Show, Attend and Tell (``attention=True``): h0, c0 = tanh(W mean(a)); at every step the
  additive attention e_ti = w^T tanh(W_a a_i + W_h h_{t-1}), alpha_t = softmax_i(e_t), the
  context z_t = beta_t * sum_i alpha_ti a_i with the gating scalar beta_t = sigmoid(f_beta(h_{t-1}))
  is fed to the LSTM with the previous word, and the deep output layer
  L_o(E y_{t-1} + L_h h_t + L_z z_t) gives the word scores (the paper's Eq. 7).

Decoding: ``greedy`` and a batched ``beam_search`` (hypotheses ranked by summed log-probability,
optionally normalised by length**``length_penalty`` when the finished beams are compared).
Token ids follow ``contracts.vocab``: 0 <pad>, 1 <bos>, 2 <eos>; <pad> and <bos> are never
generated.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PAD, BOS, EOS = 0, 1, 2
State = tuple[Tensor, Tensor]  # (h, c), each (B, hidden)


def _conv_encoder(width: int, stages: int) -> tuple[nn.Sequential, int]:
    """A stride-2 3x3 stem, then ``stages - 1`` x (3x3 conv-BN-ReLU, 2x2 max-pool) with channels
    doubling, then a 3x3 conv-BN-ReLU on the final grid: an (H / 2**stages)^2 grid of features.

    One conv per resolution keeps it cheap on a CPU; the last conv mixes each grid cell with its
    neighbours so the attention sees context, not only its own cell.
    """
    def block(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    layers, cin = block(3, width, 2), width
    for s in range(1, stages):
        layers += [*block(cin, width * 2**s), nn.MaxPool2d(2)]
        cin = width * 2**s
    layers += block(cin, cin)
    return nn.Sequential(*layers), cin


def _resnet_encoder(name: str, weights: str | None) -> tuple[nn.Sequential, int]:
    """A torchvision ResNet up to its last conv stage (stride 32; 224 px -> a 7x7 grid)."""
    import torchvision

    from lit_modules.nets.pretrained import load_pretrained, resolve

    key = "model.init_args.encoder_weights"
    if weights is not None:
        resolve(name, weights, key)  # before the build: a missing file stops the run at once
    net = getattr(torchvision.models, name)(weights=None)
    load_pretrained(net, name, weights, key)  # a torchvision weight name (IMAGENET1K_V1) or a local file
    dim = net.fc.in_features
    return nn.Sequential(*list(net.children())[:-2]), dim


class Attention(nn.Module):
    """Soft additive attention over the feature grid (Xu et al. Sec. 3.1.2, Bahdanau-style)."""

    def __init__(self, feat_dim: int, hidden_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.feat = nn.Linear(feat_dim, attention_dim)
        self.hidden = nn.Linear(hidden_dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1)

    def forward(self, feats_proj: Tensor, h: Tensor) -> Tensor:
        """feats_proj (B, L, A) = ``self.feat(feats)`` (computed once per image), h (B, H) -> alpha (B, L)."""
        e = self.score(torch.tanh(feats_proj + self.hidden(h).unsqueeze(1))).squeeze(-1)  # (B, L)
        return e.softmax(-1)


class Captioner(nn.Module):
    """CNN encoder + LSTM decoder, with or without soft attention.

    Args:
        vocab_size: V, specials included.
        attention: Show-Attend-Tell (True) or Show-Tell (False).
        encoder: "conv" (a small CNN trained from scratch) or a torchvision ResNet.
        encoder_width: channels of the first conv stage (``encoder="conv"``).
        encoder_stages: conv stages, each halving the grid (``encoder="conv"``).
        encoder_weights: ImageNet weights of a ResNet encoder: a torchvision weight name (``IMAGENET1K_V1``)
            or a local state-dict file (None: random init).
        embed_dim: word (and Show-Tell image) embedding size.
        hidden_dim: LSTM state size.
        attention_dim: size of the additive attention's hidden layer.
        dropout: dropout before the output layer.

    I/O: ``forward(images (B, 3, H, W), tokens (B, T))`` -> logits (B, T, V) predicting token t+1
    from tokens <= t (tokens start with <bos>), and attention (B, T, L) or None.
    """

    def __init__(self, vocab_size: int, attention: bool = True, encoder: Literal["conv", "resnet18", "resnet50"] = "conv",
                 encoder_width: int = 32, encoder_stages: int = 3, encoder_weights: str | None = None,
                 embed_dim: int = 128, hidden_dim: int = 256, attention_dim: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        self.vocab_size, self.attention = vocab_size, attention
        if encoder == "conv":
            self.encoder, feat_dim = _conv_encoder(encoder_width, encoder_stages)
        else:
            self.encoder, feat_dim = _resnet_encoder(encoder, encoder_weights)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.drop = nn.Dropout(dropout)
        if attention:
            self.attend = Attention(feat_dim, hidden_dim, attention_dim)
            self.init_h, self.init_c = nn.Linear(feat_dim, hidden_dim), nn.Linear(feat_dim, hidden_dim)
            self.beta = nn.Linear(hidden_dim, 1)
            self.cell = nn.LSTMCell(embed_dim + feat_dim, hidden_dim)
            self.out_h, self.out_z = nn.Linear(hidden_dim, embed_dim), nn.Linear(feat_dim, embed_dim)
            self.out = nn.Linear(embed_dim, vocab_size)
        else:
            self.image_embed = nn.Linear(feat_dim, embed_dim)
            self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
            self.out = nn.Linear(hidden_dim, vocab_size)

    # --- encoder -------------------------------------------------------------------------------

    def encode(self, images: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """images (B, 3, H, W) -> feature grid (B, L, D) and the grid's (h, w)."""
        grid = self.encoder(images)  # (B, D, h, w)
        h, w = grid.shape[-2:]
        return grid.flatten(2).transpose(1, 2), (h, w)  # (B, L=h*w, D)

    # --- one decoding step (shared by teacher forcing with attention, greedy and beam search) ---

    def init_state(self, feats: Tensor) -> tuple[State, Tensor | None]:
        """Initial (h, c) and, with attention, the projected features the attention reuses each step."""
        mean = feats.mean(1)  # (B, D)
        if self.attention:
            return (torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))), self.attend.feat(feats)
        _, (h, c) = self.lstm(self.image_embed(mean).unsqueeze(1))  # step -1: the image
        return (h[0], c[0]), None

    def step(self, prev: Tensor, state: State, feats: Tensor, proj: Tensor | None) -> tuple[Tensor, State, Tensor | None]:
        """prev (B,) token ids -> logits (B, V), new state, attention (B, L) or None."""
        h, c = state
        emb = self.embed(prev)  # (B, E)
        if not self.attention:
            _, (h1, c1) = self.lstm(emb.unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
            h, c = h1[0], c1[0]
            return self.out(self.drop(h)), (h, c), None
        alpha = self.attend(proj, h)  # (B, L)
        z = torch.sigmoid(self.beta(h)) * torch.einsum("bl,bld->bd", alpha, feats)  # (B, D), gated context
        h, c = self.cell(torch.cat([emb, z], -1), (h, c))
        logits = self.out(self.drop(emb + self.out_h(h) + self.out_z(z)))  # deep output, Eq. 7
        return logits, (h, c), alpha

    # --- teacher forcing ---------------------------------------------------------------------------

    def forward(self, images: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor | None]:
        feats, _ = self.encode(images)
        if not self.attention:  # the whole sequence in one cuDNN/oneDNN LSTM call
            mean = feats.mean(1)
            seq = torch.cat([self.image_embed(mean).unsqueeze(1), self.embed(tokens)], 1)  # (B, 1+T, E)
            out, _ = self.lstm(seq)
            return self.out(self.drop(out[:, 1:])), None  # (B, T, V)
        state, proj = self.init_state(feats)
        logits, alphas = [], []
        for t in range(tokens.shape[1]):
            step_logits, state, alpha = self.step(tokens[:, t], state, feats, proj)
            logits.append(step_logits)
            alphas.append(alpha)
        return torch.stack(logits, 1), torch.stack(alphas, 1)  # (B, T, V), (B, T, L)

    # --- decoding ----------------------------------------------------------------------------------

    @staticmethod
    def _never(logp: Tensor) -> Tensor:
        logp[:, PAD] = -torch.inf  # <pad> and <bos> are not words a caption can hold
        logp[:, BOS] = -torch.inf
        return logp

    @torch.no_grad()
    def greedy(self, images: Tensor, max_len: int = 20) -> tuple[Tensor, Tensor | None]:
        """Most likely word at each step -> ids (B, max_len) padded after <eos>, attention (B, max_len, L)."""
        feats, _ = self.encode(images)
        state, proj = self.init_state(feats)
        prev = torch.full((feats.shape[0],), BOS, dtype=torch.long, device=feats.device)
        done = torch.zeros_like(prev, dtype=torch.bool)
        out, alphas = [], []
        for _ in range(max_len):
            logits, state, alpha = self.step(prev, state, feats, proj)
            word = self._never(logits.log_softmax(-1)).argmax(-1)
            word = word.masked_fill(done, PAD)
            out.append(word)
            alphas.append(alpha)
            done |= word == EOS
            prev = word
            if bool(done.all()):
                break
        ids = torch.stack(out, 1)
        ids = F.pad(ids, (0, max_len - ids.shape[1]), value=PAD)
        if not self.attention:
            return ids, None
        att = torch.stack(alphas, 1)
        return ids, F.pad(att, (0, 0, 0, max_len - att.shape[1]))

    @torch.no_grad()
    def beam_search(self, images: Tensor, beam_width: int = 3, max_len: int = 20,
                    length_penalty: float = 0.0) -> tuple[Tensor, Tensor]:
        """Beam search -> ids (B, K, max_len) and scores (B, K), best first.

        A hypothesis's score is its summed log-probability, divided by (its length incl.
        <eos>)**``length_penalty`` when finished hypotheses are ranked (0: no normalisation).
        A finished beam is carried on with <pad> at no cost.
        """
        feats, _ = self.encode(images)
        b, k, v = feats.shape[0], beam_width, self.vocab_size
        feats = feats.repeat_interleave(k, 0)  # (B*K, L, D)
        state, proj = self.init_state(feats)
        scores = torch.full((b, k), -torch.inf, device=feats.device)
        scores[:, 0] = 0.0  # all beams start identical: expand only the first
        prev = torch.full((b * k,), BOS, dtype=torch.long, device=feats.device)
        done = torch.zeros(b * k, dtype=torch.bool, device=feats.device)
        lengths = torch.zeros(b * k, device=feats.device)
        history = torch.empty(b * k, 0, dtype=torch.long, device=feats.device)
        finished_row = torch.full((v,), -torch.inf, device=feats.device)
        finished_row[PAD] = 0.0
        for _ in range(max_len):
            logits, state, _ = self.step(prev, state, feats, proj)
            logp = self._never(logits.log_softmax(-1))  # (B*K, V)
            logp = torch.where(done.unsqueeze(1), finished_row, logp)
            total = (scores.view(-1, 1) + logp).view(b, k * v)
            scores, idx = total.topk(k, dim=1)  # (B, K)
            origin = (idx // v + torch.arange(b, device=idx.device).unsqueeze(1) * k).view(-1)  # rows in B*K
            word = (idx % v).view(-1)
            state = (state[0][origin], state[1][origin])
            history = torch.cat([history[origin], word.unsqueeze(1)], 1)
            lengths = lengths[origin] + (~done[origin]).float()
            done = done[origin] | (word == EOS)
            prev = word
            if bool(done.all()):
                break
        ranked = scores / lengths.view(b, k).clamp_min(1) ** length_penalty if length_penalty else scores
        ranked, order = ranked.sort(1, descending=True)
        history = history.view(b, k, -1).gather(1, order.unsqueeze(-1).expand(-1, -1, history.shape[1]))
        return F.pad(history, (0, max_len - history.shape[2]), value=PAD), ranked
