"""Suggestions: zero-shot, trained on decisions (tuned encoder, neighbours, calibration), stored, exported."""

import json
import pickle
import random
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from labeling import embeddings, tasks
from labeling.actions import embed_incidents, import_taxonomy, save_annotation
from labeling.actions.suggestions import needs_training, suggest_labels, train_suggestion_model
from labeling.models import Embedding, Option, Suggestion, SuggestionModel
from labeling.suggestions import metrics, queries, training, tuning
from labeling.suggestions import model as model_module
from labeling.suggestions.model import Calibration, DimensionInfo, DimensionModel, OptionInfo, description_clauses
from labeling.taxonomy_file import parse_taxonomy

# A small taxonomy whose options are told apart by what the incidents say.
OPS_TAXONOMY = {
    "key": "ops-test",
    "name": "Ops test",
    "dimensions": [
        {
            "key": "cause",
            "name": "Cause",
            "options": [
                {
                    "key": "hardware",
                    "name": "Hardware",
                    "description": "A physical part failed.",
                    "children": [
                        {"key": "gpu_failure", "name": "GPU failure", "description": "A GPU fell off the bus."},
                        {"key": "disk_failure", "name": "Disk failure", "description": "A disk returned I/O errors."},
                    ],
                },
                {
                    "key": "software",
                    "name": "Software",
                    "description": "Code or configuration we shipped.",
                    "children": [
                        {"key": "bad_deploy", "name": "Bad deploy", "description": "A release broke requests."},
                        {"key": "memory_leak", "name": "Memory leak", "description": "Memory grew until OOM."},
                    ],
                },
            ],
        },
        {
            "key": "fix",
            "name": "Fix",
            "multi": True,
            "options": [
                {"key": "rollback", "name": "Rollback", "description": "The release was rolled back."},
                {"key": "restart", "name": "Restart", "description": "Processes were restarted."},
                {"key": "replace", "name": "Replace hardware", "description": "The part was replaced."},
            ],
        },
    ],
}
STORIES = {
    "gpu_failure": (
        ["GPU {n} on node gpu-{m} fell off the bus", "Xid 79 errors on GPU {n} of host {m}"],
        "The GPU stopped responding and its requests failed until the node was drained.",
        ("replace",),
    ),
    "disk_failure": (
        ["Disk failure on storage node {m}", "I/O errors on volume {n} of storage host {m}"],
        "The disk returned read errors and its volumes went read-only.",
        ("replace",),
    ),
    "bad_deploy": (
        ["Release {n} broke chat requests", "Errors after deploy {n} of the gateway"],
        "Right after the rollout the new version returned errors on every request.",
        ("rollback",),
    ),
    "memory_leak": (
        ["Server memory grew until OOM on pod {m}", "Memory leak in worker {n} caused OOM kills"],
        "Resident memory climbed for hours until the process was killed and restarted.",
        ("restart", "rollback"),
    ),
}
DECIDED_PER_LEAF = 5


# Suggesters trained in this session, by what they were trained on: the tests that need a
# trained model share one training instead of paying for it each time.
_TRAINED = {}


@pytest.fixture
def short_training(monkeypatch):
    """Train for a few steps, once per training set: these tests check the plumbing
    (evaluate_suggestions checks quality)."""
    monkeypatch.setattr(tuning, "EPOCHS", 3)
    train = training.train_suggester

    def train_once(dataset, infos, option_vectors, seed=training.SEED):
        key = (tuple(dataset.texts), repr(sorted(dataset.labels.items())), seed)
        if key not in _TRAINED:
            _TRAINED[key] = train(dataset, infos, option_vectors, seed)
        return _TRAINED[key]

    monkeypatch.setattr(training, "train_suggester", train_once)


@pytest.fixture
def ops_taxonomy(db):
    return import_taxonomy(parse_taxonomy(OPS_TAXONOMY))


def _options(taxonomy):
    return {option.key: option for option in Option.objects.filter(dimension__taxonomy=taxonomy)}


def _story_incident(make_incident, leaf, index, rng):
    titles, body, _ = STORIES[leaf]
    title = rng.choice(titles).format(n=rng.randint(1, 99), m=rng.randint(100, 999))
    return make_incident(
        title=title, summary="", postmortem=body, service="inference", model_name="", updates=[("resolved", 30, body)]
    )


@pytest.fixture
def ops_history(ops_taxonomy, make_incident, alice):
    """DECIDED_PER_LEAF decided incidents per sub-cause, and one undecided incident per sub-cause."""
    rng = random.Random(3)
    options = _options(ops_taxonomy)
    decided, undecided = [], {}
    for leaf, (_, _, fixes) in STORIES.items():
        for index in range(DECIDED_PER_LEAF):
            incident = _story_incident(make_incident, leaf, index, rng)
            save_annotation(incident, options[leaf].dimension, alice, [options[leaf]])
            save_annotation(incident, options[fixes[0]].dimension, alice, [options[key] for key in fixes])
            decided.append(incident)
        undecided[leaf] = _story_incident(make_incident, leaf, DECIDED_PER_LEAF, rng)
    embed_incidents([incident.pk for incident in [*decided, *undecided.values()]])
    return decided, undecided


def test_zero_shot_without_decisions_suggests_from_the_option_texts(ops_taxonomy, make_incident):
    incident = make_incident(
        title="GPU fell off the bus on node 7",
        postmortem="A GPU fell off the bus.",
        updates=[("resolved", 30, "The GPU fell off the bus and was replaced.")],
    )
    embed_incidents([incident.pk])
    # when
    result = suggest_labels(ops_taxonomy)
    # then: one value for the single-valued dimension, every value of the multi-valued one
    assert result.version == "setfit-knn-self-3-zero-shot:ops-test@v1"
    cause = Suggestion.objects.get(incident=incident, dimension__key="cause")
    assert cause.option.key in {"gpu_failure", "hardware"}
    assert cause.evidence == []
    assert 0 <= cause.score <= 1
    fixes = Suggestion.objects.filter(incident=incident, dimension__key="fix")
    assert sorted(fixes.values_list("option__key", flat=True)) == ["replace", "restart", "rollback"]
    assert SuggestionModel.objects.count() == 0


def test_trained_suggestions_come_with_evidence_and_are_stored_once(ops_taxonomy, ops_history, short_training):
    decided, undecided = ops_history
    decided_ids = {incident.pk for incident in decided}
    # when
    first = suggest_labels(ops_taxonomy)
    second = suggest_labels(ops_taxonomy)
    # then: a model was trained once, on every decision, and each undecided incident got its cause
    model = SuggestionModel.objects.get()
    assert model.decision_count == 4 * DECIDED_PER_LEAF + 5 * DECIDED_PER_LEAF
    assert first.version == second.version == model.version == "setfit-knn-self-3:ops-test@v1:all-MiniLM-L6-v2:n45"
    assert first.incidents == len(undecided)
    for leaf, incident in undecided.items():
        cause = Suggestion.objects.get(incident=incident, dimension__key="cause")
        assert cause.option.key in {leaf, cause.option.top_level.key}
        assert cause.option.top_level.key == Option.objects.get(key=leaf).top_level.key
        assert cause.model_version == model.version
        assert 0 < cause.score < 1
        assert cause.evidence, "the decided incidents that voted are kept"
        assert {voter["incident"] for voter in cause.evidence} <= decided_ids
        similarities = [voter["similarity"] for voter in cause.evidence]
        assert similarities == sorted(similarities, reverse=True)
    assert Suggestion.objects.filter(dimension__key="cause").count() == len(undecided)
    assert Suggestion.objects.filter(dimension__key="fix").count() == 3 * len(undecided)


def test_the_training_task_ran_twice_trains_once(ops_taxonomy, ops_history, short_training, eager_tasks):
    assert needs_training(ops_taxonomy) is True
    tasks.train_suggestion_model.apply(args=[ops_taxonomy.pk])
    tasks.train_suggestion_model.apply(args=[ops_taxonomy.pk])
    assert SuggestionModel.objects.count() == 1
    assert needs_training(ops_taxonomy) is False
    assert tasks.sweep_suggestion_models.apply().get() == []


def test_a_stored_model_round_trips_through_pickle(ops_taxonomy, ops_history, short_training):
    row = train_suggestion_model(ops_taxonomy)
    suggester = pickle.loads(bytes(row.state))  # noqa: S301 - our own model row
    cause = suggester.dimensions["cause"]
    states = tuning.token_states(["GPU 3 fell off the bus on node gpu-7"])
    assert cause.trained is True
    assert suggester.vectors(states).shape == (1, 384)
    assert train_suggestion_model(ops_taxonomy).pk == row.pk, "same decisions, same model"


def test_export_writes_the_best_value_and_every_multi_value(ops_taxonomy, make_incident):
    incident = make_incident(external_id="INC-77", source="statuspage")
    options = _options(ops_taxonomy)
    for key, score in [("gpu_failure", 0.7), ("replace", 0.9), ("restart", 0.2)]:
        Suggestion.objects.create(
            incident=incident, dimension=options[key].dimension, option=options[key], score=score, model_version="m"
        )
    out = StringIO()
    call_command("export_suggestions", taxonomy="ops-test", stdout=out)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"incident": "INC-77", "source": "statuspage", "dimension": "cause", "value": "gpu_failure", "score": 0.7},
        {"incident": "INC-77", "source": "statuspage", "dimension": "fix", "value": "replace", "score": 0.9},
        {"incident": "INC-77", "source": "statuspage", "dimension": "fix", "value": "restart", "score": 0.2},
    ]


# Pure parts


def _hierarchy():
    options = (
        OptionInfo("hardware", "Hardware"),
        OptionInfo("gpu_failure", "GPU failure", parent="hardware"),
        OptionInfo("disk_failure", "Disk failure", parent="hardware"),
        OptionInfo("software", "Software"),
        OptionInfo("bad_deploy", "Bad deploy", parent="software"),
    )
    info = DimensionInfo("cause", multi=False, options=options)
    return DimensionModel(info=info, classes=["gpu_failure", "disk_failure", "bad_deploy"])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([0.8, 0.1, 0.1], ("gpu_failure", 0.8)),  # the sub-option is confident
        ([0.4, 0.35, 0.25], ("hardware", 0.75)),  # only its parent is
        ([0.2, 0.2, 0.6], ("bad_deploy", 0.6)),
    ],
)
def test_a_hierarchy_is_suggested_at_its_deepest_confident_level(raw, expected):
    key, score = _hierarchy().choose(np.array(raw))
    assert (key, round(score, 6)) == expected


def test_calibration_learns_that_high_raw_scores_are_overconfident():
    # held-out: raw 0.9 right half the time, raw 0.3 never
    scored = [(0.9, index % 2 == 0) for index in range(40)] + [(0.3, False) for _ in range(40)]
    calibration = Calibration.fit(scored)
    assert 0.35 < calibration(0.9) < 0.65
    assert calibration(0.3) < 0.1
    assert Calibration.fit(scored[:5])(0.9) == pytest.approx(0.9), "too few items: scores kept"


def test_the_lead_reading_stops_at_its_word_pieces():
    long = "Elevated errors on uploads. " + "The team is still investigating the issue. " * 20
    short = "Elevated errors on uploads."
    whole, lead = tuning.token_states([long, short]), tuning.token_states([long, short], tuning.LEAD_TOKENS)
    assert whole[0].shape[0] == tuning.MAX_TOKENS and lead[0].shape[0] == tuning.LEAD_TOKENS
    # a short text is its own lead (to bfloat16's precision where the CPU computes in it)
    assert whole[1].shape == lead[1].shape
    assert np.allclose(whole[1].numpy(), lead[1].numpy(), atol=0.05)


def test_a_task_is_learned_in_every_reading_at_its_own_weight():
    task = tuning.Task([0, 1], [0, 1], anchor_states=[], weight=1.0)
    readings = tuning.in_every_reading(task)
    assert [reading.reading for reading in readings] == ["whole", "lead"]
    assert sum(reading.weight for reading in readings) == pytest.approx(1.0)
    assert all(reading.contrastive is task.contrastive for reading in readings)


def test_the_encoder_learns_every_dimension_from_the_whole_text_and_its_lead(
    ops_taxonomy, ops_history, short_training, monkeypatch
):
    decided, _ = ops_history
    infos = queries.dimension_infos(ops_taxonomy)
    dataset = queries.load_dataset(ops_taxonomy, infos, sorted(incident.pk for incident in decided), [])
    fitted = []
    fit = tuning.TunedEncoder.fit.__func__

    def recording(cls, readings, tasks, seed=0):
        fitted.append((readings, tasks))
        return fit(cls, readings, tasks, seed)

    monkeypatch.setattr(tuning.TunedEncoder, "fit", classmethod(recording))
    option_vectors = {info.key: embeddings.encode([option.text for option in info.options]) for info in infos}
    # when
    training.train_suggester(dataset, infos, option_vectors)
    # then each training saw both readings of the same texts, every dimension in each
    assert fitted
    for readings, learned in fitted:
        assert len(readings["whole"]) == len(readings["lead"])
        assert max(state.shape[0] for state in readings["lead"]) <= tuning.LEAD_TOKENS
        assert sorted((task.reading, len(task.contrastive)) for task in learned) == sorted(
            (reading, len(readings["whole"])) for reading in ("whole", "lead") for _ in infos
        )


def test_description_clauses_are_short_examples():
    assert description_clauses("Login, billing; account dashboards: also emails or uploads") == [
        "Login",
        "billing",
        "account dashboards",
        "emails",
        "uploads",
    ]


def test_metrics_of_a_small_example():
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "b")]
    assert metrics.accuracy(pairs) == 0.5
    # F1: a = 2/3 (p 1, r 1/2), b = 2/3 (p 1/3... r 1) -> b: p=1/3, r=1 -> 0.5; c = 0
    assert metrics.macro_f1(pairs) == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    bins = metrics.calibration_table([(0.95, True), (0.85, False), (1.0, True), (0.1, False)])
    assert [(item.low, item.count, item.accuracy) for item in bins if item.count] == [
        (0.0, 1, 0.0),
        (0.8, 1, 0.0),
        (0.9, 2, 1.0),
    ]


def test_the_word_voice_keys_on_product_names():
    # given a dimension told apart only by which product the text names
    info = DimensionInfo("surface", False, (OptionInfo("api", "API"), OptionInfo("web", "Web app")))
    texts = [
        f"Elevated errors {n} on the {product}" for n in range(6) for product in ("gpt-4o endpoint", "chat webpage")
    ]
    targets = [0, 1] * 6
    # when
    model = DimensionModel(info, ["api", "web"], lexical=model_module._lexical().fit(texts, targets))
    scores = model._probabilities(model.lexical, ["the chat webpage is down", "gpt-4o endpoint failing"])
    # then
    assert [model.classes[index] for index in scores.argmax(axis=1)] == ["web", "api"]


def _cross_validated(output):
    """{dimension: {"items", "kappa"}} from evaluate_suggestions' summary table."""
    rows = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[1].isdigit():
            rows[fields[0]] = {"items": int(fields[1]), "kappa": float(fields[4])}
    return rows


def test_evaluate_suggestions_cross_validates_every_dimension(ops_taxonomy, ops_history, short_training):
    # given decided incidents whose causes are told apart by what they say
    decided, _ = ops_history
    out = StringIO()
    # when
    call_command("evaluate_suggestions", taxonomy="ops-test", folds=2, stdout=out, stderr=StringIO())
    # then every incident was held out once, and the held-out suggestions agree with the analysts
    figures = _cross_validated(out.getvalue())
    assert set(figures) == {"cause", "fix"}
    assert figures["cause"]["items"] == len(decided)
    assert figures["cause"]["kappa"] >= 0.5, out.getvalue()
    assert "Calibration of cause" in out.getvalue()


@pytest.mark.parametrize("command", ["suggest_labels", "export_suggestions", "evaluate_suggestions"])
def test_suggestion_commands_refuse_an_unknown_taxonomy(db, command):
    with pytest.raises(CommandError, match="no active taxonomy 'nope'"):
        call_command(command, taxonomy="nope")


def test_evaluate_suggestions_refuses_too_few_folds(db):
    with pytest.raises(CommandError, match="at least 2"):
        call_command("evaluate_suggestions", taxonomy="nope", folds=1)


def test_self_training_learns_from_sure_undecided_incidents_never_from_held_out_labels(
    ops_taxonomy, ops_history, short_training, monkeypatch
):
    # given the decided incidents and the undecided ones, as evaluate_suggestions loads them
    decided, undecided = ops_history
    infos = queries.dimension_infos(ops_taxonomy)
    ids = sorted(incident.pk for incident in decided)
    dataset = queries.load_dataset(ops_taxonomy, infos, ids, sorted(i.pk for i in undecided.values()))
    assert len(dataset.labeled()) == len(decided) and len(dataset.unlabeled()) == len(undecided)
    fits = []
    fit_once = training._fit_once

    def recording(infos, dataset, shared, indices, seed):
        fits.append((dataset, list(indices)))
        return fit_once(infos, dataset, shared, indices, seed)

    monkeypatch.setattr(training, "_fit_once", recording)
    # a few training steps (short_training) leave the scores low: a lower bar lets some through
    monkeypatch.setattr(training, "SELF_TRAINING_SCORE", 0.3)
    folds = list(training._folds(dataset, infos, 4, training.SEED))  # 15 to train on: enough to tune
    # when
    option_vectors = {info.key: embeddings.encode([option.text for option in info.options]) for info in infos}
    training.cross_validate(dataset, infos, option_vectors, folds=4)
    # then each fold fitted twice: on its training incidents with the held-out labels hidden, then
    # again with some held-out or undecided incidents, labeled by the first fit
    assert len(fits) == 2 * len(folds)
    for (train, test), (first, first_items), (second, second_items) in zip(folds, fits[::2], fits[1::2], strict=True):
        assert first_items == list(train)
        assert all(first.labels["cause"][index] is None for index in test)
        added = set(second_items) - set(train)
        assert added and added <= set(test) | set(dataset.unlabeled())
        assert all(second.labels["cause"][index] is not None for index in added)


@pytest.mark.parametrize(
    ("decided", "folds", "message"),
    [
        (
            3,
            5,
            "3 decided incidents in ops-test: cross-validation with 5 folds needs at least 5; "
            "use --folds 3 or decide more",
        ),
        (1, 2, "1 decided incident in ops-test: cross-validation with 2 folds needs at least 2; decide more"),
    ],
    ids=["three-for-five-folds", "one-for-two-folds"],
)
def test_evaluate_suggestions_refuses_fewer_decided_incidents_than_folds(
    ops_taxonomy, make_incident, alice, decided, folds, message
):
    # given fewer decided incidents than folds, none embedded yet
    gpu_failure = _options(ops_taxonomy)["gpu_failure"]
    for _ in range(decided):
        save_annotation(make_incident(), gpu_failure.dimension, alice, [gpu_failure])
    # when / then: a clear error, before any embedding work
    with pytest.raises(CommandError) as raised:
        call_command("evaluate_suggestions", taxonomy="ops-test", folds=folds, stdout=StringIO(), stderr=StringIO())
    assert str(raised.value) == message
    assert Embedding.objects.count() == 0


def test_export_suggestions_leaves_out_decided_incidents(ops_taxonomy, make_incident, alice, django_assert_num_queries):
    # given an incident decided on its cause but not on its fix, and an undecided one
    decided = make_incident(external_id="DONE-1", source="statuspage")
    undecided = make_incident(external_id="OPEN-1", source="statuspage")
    options = _options(ops_taxonomy)
    for incident, key, score in [
        (decided, "gpu_failure", 0.8),
        (decided, "replace", 0.6),
        (undecided, "bad_deploy", 0.7),
    ]:
        Suggestion.objects.create(
            incident=incident, dimension=options[key].dimension, option=options[key], score=score, model_version="m"
        )
    save_annotation(decided, options["disk_failure"].dimension, alice, [options["disk_failure"]])
    out = StringIO()
    # when: one query for the taxonomy, one for every record
    with django_assert_num_queries(2):
        call_command("export_suggestions", taxonomy="ops-test", stdout=out)
    # then the decided cause's stale suggestion is left out, the undecided fix is kept
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"incident": "DONE-1", "source": "statuspage", "dimension": "fix", "value": "replace", "score": 0.6},
        {"incident": "OPEN-1", "source": "statuspage", "dimension": "cause", "value": "bad_deploy", "score": 0.7},
    ]
