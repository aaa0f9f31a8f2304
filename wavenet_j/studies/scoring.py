"""How well does a proxy rank architectures? Rank correlations with the trained U models, top-k hits, cost.

Every score here is oriented so that higher means better: a target is a trained U model's SDR (or its
negated validation loss), a proxy's value is as ``proxies.py`` defines it, and a training proxy is
the negated validation loss of a cheaper run (J, L, or U stopped after k epochs).
"""

import numpy as np

from wavenet_j.studies.correlation import StudyError, correlate
from wavenet_j.studies.proxies import PROXIES, VOTE, vote

# What a proxy should predict, from a benchmark record; higher is better.
TARGETS = {
    "vocals_mean_sdr": lambda r: r["U"]["mean_sdr"]["vocals"],
    "vocals_median_sdr": lambda r: r["U"]["median_sdr"]["vocals"],
    "accompaniment_mean_sdr": lambda r: r["U"]["mean_sdr"]["accompaniment"],
    "accompaniment_median_sdr": lambda r: r["U"]["median_sdr"]["accompaniment"],
    "validation_loss": lambda r: -r["U"]["validation_loss"],
}


def target_label(target):
    """``vocals mean SDR`` for ``vocals_mean_sdr``: a target as tables and figures name it."""
    return target.replace("_", " ").replace("sdr", "SDR")


U_EPOCHS = (1, 2)  # the "U stopped after k epochs" training proxies
TOP_K, SUBSET = 3, 8  # top-k hit rate: does the proxy's top 3 of 8 random candidates hold their best?


def _training_proxies(record):
    """``{name: (value, seconds)}`` of the training proxies a record has: J, L (their best validation
    loss, negated) and U@k (the U run's validation loss after k epochs, at k epochs' share of its time)."""
    found = {}
    for kind in ("J", "L"):
        if kind in record:
            found[kind] = (-record[kind]["validation_loss"], record[kind]["train_seconds"])
    curve = record.get("U", {}).get("validation_curve", [])
    for k in U_EPOCHS:
        if len(curve) > k:
            found[f"U@{k}"] = (-curve[k - 1], record["U"]["train_seconds"] * k / len(curve))
    return found


def proxy_values(records):
    """``{proxy: {"values": {variant: value}, "seconds": {variant: s}}}`` over the records that have
    U's results, with ``vote`` (the mean rank of the ``VOTE`` proxies) where a record has all three."""
    scored = [r for r in records if "U" in r]
    table = {}

    def put(proxy, name, value, seconds):
        entry = table.setdefault(proxy, {"values": {}, "seconds": {}})
        entry["values"][name], entry["seconds"][name] = float(value), float(seconds)

    for record in scored:
        for proxy, result in record.get("proxies", {}).items():
            put(proxy, record["name"], result["value"], result["seconds"])
        for proxy, (value, seconds) in _training_proxies(record).items():
            put(proxy, record["name"], value, seconds)
    voters = [r["name"] for r in scored if all(p in r.get("proxies", {}) for p in VOTE)]
    if voters:
        ranks = vote({p: [table[p]["values"][n] for n in voters] for p in VOTE})
        for name, rank in zip(voters, ranks):
            put("vote", name, rank, sum(table[p]["seconds"][name] for p in VOTE))
    return table


def top_k_hit_rate(proxy, target, k=TOP_K, subset=SUBSET, draws=2000, seed=0):
    """Share of random ``subset``-sized candidate sets whose best (by ``target``) is among the proxy's
    top ``k`` of them; the whole set when it has at most ``subset`` members."""
    proxy, target = np.asarray(proxy, dtype=float), np.asarray(target, dtype=float)
    size = min(subset, len(proxy))
    rng = np.random.default_rng(seed)
    picks = (
        [np.arange(len(proxy))]
        if size == len(proxy)
        else [rng.choice(len(proxy), size, replace=False) for _ in range(draws)]
    )
    hits = [np.argmax(target[p]) in np.argsort(-proxy[p], kind="stable")[:k] for p in picks]
    return float(np.mean(hits))


def score_proxies(records, bootstrap=2000):
    """Every proxy of the records against every target of ``TARGETS`` (``score_table``)."""
    records = [r for r in records if "U" in r]
    targets = {t: {r["name"]: get(r) for r in records} for t, get in TARGETS.items()}
    u_seconds = {r["name"]: r["U"]["train_seconds"] for r in records}
    return score_table(proxy_values(records), targets, u_seconds, bootstrap)


def score_table(table, targets, u_seconds, bootstrap=2000):
    """Each proxy of ``table`` (as ``proxy_values`` gives it) against each of ``targets`` (``{target:
    {model: truth}}``): Spearman's rho and Kendall's tau with 95% bootstrap intervals, the top-k hit
    rate, and the proxy's cost (median seconds, and as a share of the model's U training)."""
    scores = {}
    for proxy, entry in table.items():
        names = sorted(entry["values"])
        values = [entry["values"][n] for n in names]
        result = {
            "variants": len(names),
            "median_seconds": float(np.median([entry["seconds"][n] for n in names])),
            "share_of_u_training": float(np.median([entry["seconds"][n] / u_seconds[n] for n in names])),
            "targets": {},
        }
        for target, truth in targets.items():
            truth = [truth[n] for n in names]
            try:
                correlation = correlate(truth, values, bootstrap, measures=("spearman", "kendall"))
            except StudyError as error:
                result["targets"][target] = {"gap": str(error)}
                continue
            correlation.pop("pairs")
            correlation[f"top{TOP_K}_hit_rate"] = top_k_hit_rate(values, truth)
            result["targets"][target] = correlation
        scores[proxy] = result
    return scores


def ordered(scores):
    """Proxy names in report order: the training-free ones as ``PROXIES`` lists them, the vote, then
    the training proxies."""
    order = list(PROXIES) + ["vote", "J", "L"] + [f"U@{k}" for k in U_EPOCHS]
    return [p for p in order if p in scores] + sorted(p for p in scores if p not in order)
