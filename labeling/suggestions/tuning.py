"""Few-shot fine-tuning of the embedding model on confirmed labels (SetFit-style).

The frozen lower layers of all-MiniLM-L6-v2 turn each text into token states once; only the
top layers are trained, per dimension, so that incidents the analysts put in the same
option embed close together (a supervised contrastive loss) and close to that option's
written description (a cross-entropy over the similarities to the option texts). Computing
the frozen layers once is what makes training on two CPU cores take seconds per epoch.

Every task is learned from two readings of each incident: the whole text, and its lead (the
first LEAD_TOKENS word pieces: the headline and first update). Status-page incidents state
their symptom in the headline and their cause further down; an encoder that also has to
place the lead alone by its label learns to weigh the headline, without losing the cause.
Suggestions still read the whole text.

The base model comes from labeling.embeddings (the one place that loads weights); this
module copies its top layers and never writes the shared model.
"""

import copy
import io
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

# Layers 0..2 of the six stay frozen and their output is computed once per text; layers
# 3..5 are trained. Training the top three measured best on the status-page labels
# (evaluate_suggestions); the top one alone lost ~0.05 kappa on category.
FIRST_TUNED_LAYER = 3
# Word pieces read per incident: status-page incidents are 60 pieces at the median and
# 110 at the 90th percentile, so 128 reads almost all of them at half the model's cost.
MAX_TOKENS = 128
# Word pieces of the lead reading. On the status-page labels (evaluate_suggestions, 5 folds)
# learning from both readings raised symptom's kappa from 0.691 to 0.724 and left category's
# at 0.646 (4 held-out incidents fixed, 1 broken; variants of it gave 0.73-0.745). Reading
# only the lead had cost category 0.05, and averaging two separately tuned readers gained
# nothing. Training embeds each batch twice, so it takes about twice as long.
LEAD_TOKENS = 64
# The readings every task learns from; the first is the one suggestions are made from.
READINGS = ("whole", "lead")
# Passes over the training texts, and a cap on optimizer steps so a taxonomy with thousands
# of decided incidents trains in minutes, not hours (the cap binds above ~200 incidents).
EPOCHS = 20
MAX_STEPS = 300
BATCH_SIZE = 16
LEARNING_RATE = 5e-5
WEIGHT_DECAY = 0.01
# Share of the steps spent warming the learning rate up, before it decays linearly to zero.
WARMUP_SHARE = 0.1
# Temperatures: the contrastive loss between incidents, and the softmax over option texts.
CONTRASTIVE_TEMPERATURE = 0.1
ANCHOR_TEMPERATURE = 0.05
# Texts per forward pass when encoding (no gradients): bounded memory, both cores busy.
ENCODE_BATCH = 64
# A label that does not apply to a training text (a description clause of another dimension).
NO_LABEL = -1


def _torch():
    import torch

    return torch


def _fast_math():
    """bfloat16 autocast where the CPU multiplies it in hardware (AMX, AVX-512 BF16), else a no-op.

    Training and encoding through the top layers run about twice as fast there; the loss,
    pooling and the returned vectors stay float32.
    """
    from labeling.embeddings import cpu_multiplies_bfloat16

    torch = _torch()
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_multiplies_bfloat16())


@lru_cache(maxsize=1)
def _bottom():
    """The frozen lower layers: a copy of the shared model cut after FIRST_TUNED_LAYER layers."""
    from labeling import embeddings

    model = embeddings.get_model()
    bottom = copy.deepcopy(model[0].auto_model)
    bottom.encoder.layer = bottom.encoder.layer[:FIRST_TUNED_LAYER]
    bottom.eval()
    return model.tokenizer, bottom


def _top_template():
    """A fresh copy of the top layers, fed token states instead of word pieces."""
    from labeling import embeddings

    torch = _torch()

    class TokenStatesIn(torch.nn.Module):
        """Stands in for the embedding layer: the input already is the lower layers' output."""

        def forward(self, input_ids=None, inputs_embeds=None, **kwargs):
            return inputs_embeds

    top = copy.deepcopy(embeddings.get_model()[0].auto_model)
    top.embeddings = TokenStatesIn()
    top.encoder.layer = top.encoder.layer[FIRST_TUNED_LAYER:]
    return top


def token_states(texts, max_tokens=MAX_TOKENS):
    """The frozen layers' output for each text, read up to `max_tokens` word pieces: a list of
    [tokens, width] float tensors."""
    torch = _torch()
    tokenizer, bottom = _bottom()
    states = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda index: len(texts[index]))
    with torch.inference_mode(), _fast_math():
        for start in range(0, len(order), ENCODE_BATCH):
            batch = order[start : start + ENCODE_BATCH]
            features = tokenizer(
                [texts[index] for index in batch],
                padding=True,
                truncation=True,
                max_length=max_tokens,
                return_tensors="pt",
            )
            hidden = bottom(**features).last_hidden_state.float()
            lengths = features["attention_mask"].sum(dim=1).tolist()
            for row, index in enumerate(batch):
                states[index] = hidden[row, : lengths[row]].clone()
    return states


def _pad(states, indices):
    torch = _torch()
    longest = max(states[index].shape[0] for index in indices)
    width = states[indices[0]].shape[1]
    hidden = torch.zeros(len(indices), longest, width)
    mask = torch.zeros(len(indices), longest, dtype=torch.long)
    for row, index in enumerate(indices):
        length = states[index].shape[0]
        hidden[row, :length] = states[index]
        mask[row, :length] = 1
    return hidden, mask


def _embed(top, states, indices):
    """Mean-pooled, unit-length sentence vectors of some texts through the top layers."""
    torch = _torch()
    hidden, mask = _pad(states, list(indices))
    with _fast_math():
        output = top(inputs_embeds=hidden, attention_mask=mask).last_hidden_state
    output = output.float()
    weights = mask.unsqueeze(-1).to(output.dtype)
    pooled = (output * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def _contrastive_loss(vectors, labels):
    """Supervised contrastive loss (Khosla et al. 2020): same-label texts attract, others repel."""
    torch = _torch()
    keep = labels != NO_LABEL
    vectors, labels = vectors[keep], labels[keep]
    if len(labels) < 2:
        return vectors.sum() * 0
    similarity = vectors @ vectors.T / CONTRASTIVE_TEMPERATURE
    self_pair = torch.eye(len(labels), dtype=torch.bool)
    similarity = similarity.masked_fill(self_pair, -1e9)
    positives = (labels[:, None] == labels[None, :]) & ~self_pair
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    has_positive = positives.any(dim=1)
    if not has_positive.any():
        return vectors.sum() * 0
    per_text = (log_prob * positives).sum(dim=1)[has_positive] / positives.sum(dim=1)[has_positive]
    return -per_text.mean()


def _anchor_loss(vectors, labels, anchors):
    """Cross-entropy of each text's similarities to the option texts: its own option should win."""
    torch = _torch()
    keep = labels != NO_LABEL
    if not keep.any():
        return vectors.sum() * 0
    logits = vectors[keep] @ anchors.T / ANCHOR_TEMPERATURE
    return torch.nn.functional.cross_entropy(logits, labels[keep])


def _batches(states, rng):
    """Shuffled batches of texts of similar length, so little of each batch is padding."""
    order = rng.permutation(len(states))
    batches = []
    for start in range(0, len(order), BATCH_SIZE * 4):
        chunk = sorted(order[start : start + BATCH_SIZE * 4], key=lambda index: states[index].shape[0])
        batches.extend(chunk[offset : offset + BATCH_SIZE] for offset in range(0, len(chunk), BATCH_SIZE))
    return [batches[index] for index in rng.permutation(len(batches))]


def _optimizer(top, count):
    """AdamW with linear warm-up and decay over EPOCHS passes (at most MAX_STEPS steps)."""
    torch = _torch()
    optimizer = torch.optim.AdamW(top.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    total = max(1, min(MAX_STEPS, EPOCHS * -(-count // BATCH_SIZE)))
    warmup = WARMUP_SHARE * total + 1
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / total)
    )
    return optimizer, schedule, total


@dataclass
class Task:
    """One thing the encoder learns: which texts belong together, and which option text each is near.

    `contrastive` and `anchor` hold a label per training text (NO_LABEL where it does not
    apply); `anchor_states` are the token states of the option texts the anchor labels index;
    `reading` names which of READINGS the texts are embedded from.
    """

    contrastive: object
    anchor: object
    anchor_states: list
    weight: float = 1.0
    reading: str = READINGS[0]


def in_every_reading(task):
    """The task learned from each of READINGS, their weights summing to the task's."""
    return [replace(task, reading=reading, weight=task.weight / len(READINGS)) for reading in READINGS]


def _batch_loss(top, readings, batch, tasks):
    used = {task.reading for task in tasks}
    by_reading = {reading: _embed(top, readings[reading], batch) for reading in READINGS if reading in used}
    loss = sum(vectors.sum() * 0 for vectors in by_reading.values())
    for task in tasks:
        vectors = by_reading[task.reading]
        part = _contrastive_loss(vectors, task.contrastive[batch])
        anchor_labels = task.anchor[batch]
        if (anchor_labels != NO_LABEL).any():
            anchors = _embed(top, task.anchor_states, range(len(task.anchor_states)))
            part = part + _anchor_loss(vectors, anchor_labels, anchors)
        loss = loss + task.weight * part
    return loss


class TunedEncoder:
    """The top layers of the embedding model, trained for one dimension; the state is plain bytes."""

    def __init__(self, top):
        self.top = top

    @classmethod
    def fit(cls, readings, tasks, seed=0):
        """Train on one or more Tasks (each a dimension in a reading); return the encoder.

        `readings` holds, per reading a task names, the token states of the same training
        texts in the same order.
        """
        torch = _torch()
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        top = _top_template()
        top.train()
        states = readings[READINGS[0]]
        optimizer, schedule, total = _optimizer(top, len(states))
        tasks = [
            replace(
                task,
                contrastive=torch.as_tensor(np.asarray(task.contrastive), dtype=torch.long),
                anchor=torch.as_tensor(np.asarray(task.anchor), dtype=torch.long),
            )
            for task in tasks
        ]
        step = 0
        while step < total:
            for batch in _batches(states, rng)[: total - step]:
                loss = _batch_loss(top, readings, list(batch), tasks)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                step += 1
        top.eval()
        return cls(top)

    def encode_states(self, states):
        """Unit vectors (numpy, float32) of texts given as token states."""
        torch = _torch()
        if not states:
            return np.zeros((0, 0), dtype=np.float32)
        parts = []
        with torch.inference_mode():
            for start in range(0, len(states), ENCODE_BATCH):
                parts.append(_embed(self.top, states, range(start, min(start + ENCODE_BATCH, len(states)))))
        return torch.cat(parts).float().numpy()

    def __getstate__(self):
        """Pickle the trained weights only (half precision): the rest comes from the base model."""
        torch = _torch()
        buffer = io.BytesIO()
        torch.save({name: tensor.half() for name, tensor in self.top.encoder.state_dict().items()}, buffer)
        return {"encoder": buffer.getvalue()}

    def __setstate__(self, state):
        torch = _torch()
        weights = torch.load(io.BytesIO(state["encoder"]), weights_only=True)
        top = _top_template()
        top.encoder.load_state_dict({name: tensor.float() for name, tensor in weights.items()})
        top.eval()
        self.top = top
