"""Monitoring figures from summed counters: cost follows the bins, never the reports.

Scores are integers, so binning labelled reports by their score loses nothing: AUC (ties
at half), KS and the bad rates are exactly those of the reports themselves.
"""
import math

import numpy as np

from maiascore.monitoring.bins import MISSING, SHARE_FLOOR, all_labels, score_labels

STABLE, MODERATE, SHIFTED = "stable", "moderate", "shifted"
PSI_MODERATE, PSI_SHIFTED = 0.1, 0.25
SKIP = {"_id", "aid", "version", "hour", "ap"}


def add_into(total, doc):
    for key, value in doc.items():
        if key in SKIP:
            continue
        if isinstance(value, dict):
            add_into(total.setdefault(key, {}), value)
        elif isinstance(value, (int, float)):
            total[key] = total.get(key, 0) + value
    return total


def summed(docs):
    total = {}
    for doc in docs:
        add_into(total, doc)
    return total


def psi(expected_counts, actual_counts, labels):
    """Population stability: sum over bins of (a - e) ln(a / e), shares floored at SHARE_FLOOR."""
    e = np.array([expected_counts.get(k, 0) for k in labels], dtype=np.float64)
    a = np.array([actual_counts.get(k, 0) for k in labels], dtype=np.float64)
    e = np.maximum(e / e.sum(), SHARE_FLOOR) if e.sum() else np.full(len(labels), SHARE_FLOOR)
    a = np.maximum(a / a.sum(), SHARE_FLOOR) if a.sum() else np.full(len(labels), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_status(value):
    if value is None:
        return None
    return STABLE if value < PSI_MODERATE else MODERATE if value < PSI_SHIFTED else SHIFTED


def figure(value, count, minimum, **extra):
    """A figure and the count it rests on; below ``minimum`` the value is withheld and says why."""
    if count < minimum or value is None:
        note = (f"rests on {count} reports, fewer than the {minimum} needed" if count < minimum
                else "not defined on these reports")
        return {"value": None, "count": count, "note": note, **extra}
    return {"value": round(float(value), 9), "count": count, **extra}


def score_counts(s_bins, edges):
    """``s.<score>`` counts folded onto the baseline's score bins."""
    counts = {}
    if not s_bins:
        return counts
    scores = np.array([int(k) for k in s_bins], dtype=np.int64)
    labels = score_labels(edges, scores)
    for label, key in zip(labels.tolist(), s_bins):
        counts[label] = counts.get(label, 0) + s_bins[key]
    return counts


def good_bad(bins):
    """Sorted scores and their good and bad counts from ``{score: {g, b}}``."""
    keys = sorted(bins, key=int)
    scores = np.array([int(k) for k in keys], dtype=np.float64)
    good = np.array([bins[k].get("g", 0) for k in keys], dtype=np.float64)
    bad = np.array([bins[k].get("b", 0) for k in keys], dtype=np.float64)
    return scores, good, bad


def auc_ks(bins):
    """AUC (P(a good scores above a bad), ties counting half) and KS from score bins; None when a
    class is absent."""
    _, good, bad = good_bad(bins)
    n_good, n_bad = good.sum(), bad.sum()
    if not n_good or not n_bad:
        return None, None
    bad_below = np.cumsum(bad) - bad
    auc = float(np.sum(good * (bad_below + 0.5 * bad)) / (n_good * n_bad))
    ks = float(np.max(np.abs(np.cumsum(good) / n_good - np.cumsum(bad) / n_bad)))
    return auc, ks


def bands(bins, edges):
    """Bad rate and count per score band (the baseline's score bins; 50-point bands without one)."""
    scores, good, bad = good_bad(bins)
    if edges is None:
        edges = list(range(350, 850, 50))
    labels = score_labels(edges, scores)
    out = []
    for i in range(len(edges) + 1):
        pick = labels == str(i)
        n = float(good[pick].sum() + bad[pick].sum())
        low = None if i == 0 else edges[i - 1]
        high = None if i == len(edges) else edges[i]
        out.append({"band": i, "from": low, "to": high, "count": int(n),
                    "badRate": None if not n else round(float(bad[pick].sum()) / n, 9)})
    return out


def calibration(bins, edges, minimum):
    """Mean predicted vs observed bad rate per score band, the size-weighted error, and the Brier score."""
    if edges is None:
        edges = list(range(350, 850, 50))
    keys = sorted(bins, key=int)
    labels = score_labels(edges, [int(k) for k in keys]).tolist()
    rows, error, total = [], 0.0, 0
    n_all = p_all = q_all = pg_all = g_all = 0.0
    for i in range(len(edges) + 1):
        n = g = p = 0.0
        for key, label in zip(keys, labels):
            if label == str(i):
                item = bins[key]
                n += item.get("g", 0) + item.get("b", 0)
                g += item.get("g", 0)
                p += item.get("p", 0.0)
        if n:
            predicted, observed = 1 - p / n, 1 - g / n
            rows.append({"band": i, "count": int(n), "predictedBadRate": round(predicted, 9),
                         "observedBadRate": round(observed, 9)})
            error += n * abs(predicted - observed)
            total += n
    for item in bins.values():
        n_all += item.get("g", 0) + item.get("b", 0)
        g_all += item.get("g", 0)
        p_all += item.get("p", 0.0)
        q_all += item.get("q", 0.0)
        pg_all += item.get("pg", 0.0)
    brier = (q_all - 2 * pg_all + g_all) / n_all if n_all else None
    return {"bands": rows, "error": figure(error / total if total else None, int(total), minimum),
            "brier": figure(brier, int(n_all), minimum)}


def realized(bins, edges, minimum):
    n = int(sum(v.get("g", 0) + v.get("b", 0) for v in bins.values()))
    bad = int(sum(v.get("b", 0) for v in bins.values()))
    auc, ks = auc_ks(bins)
    return {"labelled": n,
            "auc": figure(auc, n, minimum),
            "gini": figure(None if auc is None else 2 * auc - 1, n, minimum),
            "ks": figure(ks, n, minimum),
            "badRate": figure(bad / n if n else None, n, minimum),
            "bands": bands(bins, edges),
            "calibration": calibration(bins, edges, minimum)}


def challenger_figures(version, ch, minimum):
    n = int(ch.get("n", 0))
    agreement = ch.get("agree", 0) / n if n else None
    corr = None
    if n > 1:
        vx = ch["sxx"] - ch["sx"] ** 2 / n
        vy = ch["syy"] - ch["sy"] ** 2 / n
        if vx > 0 and vy > 0:
            corr = (ch["sxy"] - ch["sx"] * ch["sy"] / n) / math.sqrt(vx * vy)
    labelled = int(ch.get("labelled", 0))
    auc_a, ks_a = auc_ks(ch.get("oa", {}))
    auc_c, ks_c = auc_ks(ch.get("oc", {}))
    return {"version": version, "count": n, "agreement": figure(agreement, n, minimum),
            "scoreCorrelation": figure(corr, n, minimum), "labelled": labelled,
            "champion": {"auc": figure(auc_a, labelled, minimum), "ks": figure(ks_a, labelled, minimum)},
            "challenger": {"auc": figure(auc_c, labelled, minimum), "ks": figure(ks_c, labelled, minimum)}}


def drift(baseline, total, minimum):
    """Score PSI and per-feature PSI (worst first) against the baseline."""
    n = int(total.get("n", 0))
    edges = baseline["score"]["edges"]
    names = [str(i) for i in range(len(edges) + 1)]
    score_psi = psi(baseline["score"]["counts"], score_counts(total.get("s", {}), edges), names) if n else None
    score = figure(score_psi, n, minimum)
    score["status"] = psi_status(score["value"])
    features = []
    f_counts = total.get("f", {})
    for j, spec in enumerate(baseline["features"]):
        counts = f_counts.get(str(j), {})
        seen = int(sum(counts.values()))
        value = psi(spec["counts"], counts, all_labels(spec)) if seen else None
        item = figure(value, seen, minimum, feature=spec["name"])
        item["status"] = psi_status(item["value"])
        item["missingRate"] = {"now": round(counts.get(MISSING, 0) / seen, 9) if seen else None,
                               "baseline": round(spec["missingRate"], 9)}
        features.append(item)
    features.sort(key=lambda f: (f["value"] is None, -(f["value"] or 0), f["feature"]))
    return score, features
