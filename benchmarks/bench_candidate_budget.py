"""How a candidate's label-free score and ARI evolve with its update budget (fresh trainings per budget).

    python benchmarks/bench_candidate_budget.py iris,wine,olive,digits   (prints one JSON row per training;
    benchmarks/results/candidate_budget.md was rendered from them)
"""
import sys, json, time, math
import numpy as np, torch
torch.set_num_threads(1)
sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from judge_tables import DEVELOPMENT
from sklearn.preprocessing import StandardScaler
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sknas.space import SearchSpace, build_network
from sknas.training import make_objective, train_candidate, embed, seeded
from sknas.training.budget import batches_per_epoch
from sknas.evaluation import score_embedding
tables = sys.argv[1].split(",")
budgets = [100, 200, 350, 500, 1000]
out = []
for t in tables:
    X, y = DEVELOPMENT[t]()
    X = X.select_dtypes("number").to_numpy(np.float64)
    Xs = StandardScaler().fit_transform(X).astype(np.float32)
    k = len(np.unique(y)); rng = np.random.RandomState(0)
    order = rng.permutation(len(Xs)); nv = int(round(0.2 * len(Xs)))
    tr, va = order[nv:], order[:nv]
    space = SearchSpace()
    archs = []
    while len(archs) < 4:
        a = space.sample(rng)
        if a.head not in ("identity", "lda", "raw"): archs.append(a)
    for ai, a in enumerate(archs):
        for B in budgets:
            E = max(1, math.ceil(B / batches_per_epoch(len(tr), 512)))
            with seeded(ai):
                enc = build_network(a, Xs.shape[1], 8)
                enc.fit_fixed_parts(Xs[tr], k, random_state=ai)
                obj = make_objective("neighbors", Xs.shape[1], enc.n_outputs)
                trd = obj.prepare(torch.as_tensor(Xs[tr])); vad = obj.prepare(torch.as_tensor(Xs[va]))
                t0 = time.perf_counter()
                r = train_candidate(enc, obj, trd, vad, max_epochs=E, batch_size=512, learning_rate=3e-3, weight_decay=1e-5, keep="last")
                dt = time.perf_counter() - t0
                Z = embed(enc, torch.as_tensor(Xs)).numpy().astype(np.float64)
            sc = score_embedding(Z[tr[:2000]], scoring="silhouette", n_clusters=k, random_state=0)
            lab = KMeans(k, n_init=10, random_state=0).fit_predict(Z)
            row = dict(table=t, arch=ai, budget=B, epochs=E, score=round(float(sc.score),4), ari=round(adjusted_rand_score(y, lab),4), sec=round(dt,2))
            print(json.dumps(row), flush=True); out.append(row)
print("rows:", len(out))
