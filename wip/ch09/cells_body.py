md("d962e7a1", r'''
# Regularization by the network

```{admonition} Learning goals
After this chapter you can

- train the score network of the paper's experiments by {term}`denoising score matching <Denoising score matching>`, several
  networks at once, and measure how much its samples {term}`memorize <Memorization>` with the fraction
  $\mathrm{frac}(\mathrm{tol})$ at every checkpoint;
- show, with numbers, how training time ({term}`early stopping <Early stopping>`), width, the output
  parameterization and a Tikhonov penalty keep a trained network away from the memorizing
  minimizer $s^N$, over the authors' full training lengths (100 000 and 500 000 steps);
- read a stored long run (`results/*.csv`, `mdiff.long_run`) beside a short run executed live,
  and check that the live run is exactly the beginning of the stored one;
- compare a learned score with $s^N$ along $t$, and explain with a displacement budget why a
  network that predicts the noise $\hat\varepsilon$ memorizes faster than one that predicts
  the score;
- see on images that a network's samples become copies of the training set only late in
  training.
```
''')
keep("colab-install")
keep("0616357f")
md("b61ab381", r'''
Chapters {doc}`4 <04-memorization-dynamics>` and {doc}`5 <05-memorization-at-scale>` showed
that the exact minimizer $s^N$ of the empirical denoising score-matching (DSM) loss can only
return its training points, and chapters {doc}`7 <07-tikhonov>` and
{doc}`8 <08-asymptotic-consistency>` changed the loss or the score by hand to prevent that. A diffusion model in practice does
neither: it trains a neural network by stochastic gradient descent on the very same
empirical loss. Over *all* functions that loss is minimized by $s^N$, so a network that
reached the minimum would memorize. Why, then, do trained networks generate anything new?
{cite:t}`baptista2025memorization` point to four mechanisms, and this chapter measures each
of them in their two-dimensional network experiments, with the settings of their code
{cite}`baptista2025code`:

1. **early stopping**: training ends long before the loss reaches its minimum;
2. **under-parameterization**: a small network cannot represent $s^N$;
3. **parameterization**: a network that outputs the score directly cannot produce the
   $1/\sigma(t)^2$ singularity of $s^N$ near the data, one that outputs the noise can
   (partly);
4. **an explicit penalty** $c\|s\|^2$ in the training loss, the network counterpart of the
   {term}`Tikhonov regularization` of chapter 7.

The first two are the subject of much recent work on why diffusion models {term}`generalize <Generalization>`
{cite}`kadkhodaie2024generalization,bonnaire2025why`; here we see them in the smallest
setting where every sample can be checked against every training point.

## Live runs and stored runs

The authors train their two-dimensional networks for 100 000 Adam steps (the comparison of
the two outputs, E8c, and the widths, E7) and for 500 000 (the Tikhonov penalty, E8d). That
takes about an hour on two CPU cores, far more than a chapter can spend, so this chapter uses
two kinds of numbers and always says which is which:

- **stored runs**: the full-length experiments, run once by `make long-runs` (the script
  `tools/long_runs.py` of the repository) and kept as small text files `results/E8c.csv`,
  `results/E8d.csv`, `results/E7.csv` and `results/E9.csv`, one row per network, checkpoint and
  tolerance, with a header that records the commit, the settings, the seeds, the torch version
  and the wall time. `mdiff.long_run("E8c")` reads one;
- **live runs**: the first 20 000 steps of the same trainings, executed below, with a
  checkpoint every 5 000 steps.

A live run is not an imitation of a stored one: it stacks the same networks in the same order,
with the same initial weights, the same noise seed and the same sampler, on one thread, so it
reproduces the stored run bit for bit. The chapter checks that: at 10 000 and 20 000 steps,
the checkpoints both runs have, the live fractions must equal the stored ones digit for digit.
That check is what entitles us to read the stored 100 000 and 500 000 steps as "what this code
does", not as numbers copied from elsewhere. In the figures, **filled markers are live, lines
are stored**.
''')
code("75a61c13", r'''
LIVE_STEPS = 20_000  # Adam steps of the live runs: the first fifth of E8c and E7
EVERY = 5_000  # live checkpoint spacing (the stored runs keep one every 10 000)
WIDTH, DEPTH, EMB_DIM = 256, 2, 8  # the paper's MLP
WIDTHS = [32, 64, 128]  # narrower networks for the width sweep (E7)
CS = [1e-4, 1e-3, 1e-2, 1e-1]  # Tikhonov penalties c of E8d (stored runs)
LR, EMA = 1e-3, 0.9999  # Adam learning rate, EMA decay
TOLS = [1e-2, 5e-2, 1e-1, 5e-1]  # tolerances of the memorized fraction frac(tol)
N_SAMPLES, ODE_STEPS = 1000, 100  # PF-ODE samples per checkpoint, Heun steps
IMG_PIX, IMG_WIDTH, IMG_BATCH = 8, 256, 16  # live images: 8x8 rectangles, MLP, batch
IMG_STEPS, IMG_EVERY = 16_000, 4_000  # the live image run
''')
md("c9d0a001", r'''
The stored runs are read once, here. Each file becomes a table
`{network: {step: [frac(tol) for tol in TOLS]}}`; the printout shows what each file holds and
the first lines of its provenance header.
''')
code("c9d0a002", r'''
def stored_table(name):
    # results/<name>.csv as {variant: {step: [frac(tol) for tol in TOLS]}}
    header, rows = mdiff.long_run(name)
    table = {}
    for r in rows:
        table.setdefault(r["variant"], {}).setdefault(r["steps"], {})[r["tol"]] = r[
            "fraction"
        ]
    return header, {
        v: {s: [by[t] for t in TOLS] for s, by in sorted(steps.items())}
        for v, steps in table.items()
    }


about, stored = {}, {}
for name in XXX-STORED-NAMES:
    about[name], stored[name] = stored_table(name)
    steps = sorted({s for v in stored[name].values() for s in v})
    print(f"{name}: {', '.join(stored[name])}; steps {steps[0]} to {steps[-1]}")
    for line in about[name]:
        if line.startswith(("commit:", "torch", "wall time")):
            print("   ", line)
stored["E7"][f"width={WIDTH}"] = stored["E8c"]["score"]  # width 256 is E8c's score net
''')
for cid, kind in [("3ee2d45d", "markdown"), ("0184ae94", "code"), ("97e6bb71", "markdown"),
                  ("5718cafb", "code"), ("25b38a80", "markdown"), ("1dabc8ab", "code"),
                  ("94bc571f", "markdown"), ("c53dca4b", "code")]:
    keep(cid, kind)
md("c2f5f30d", r'''
## Training the paper's network

The live run trains the two width-256 networks of E8c in one stack: a noise-output network
and a score-output network, both with $c = 0$. The stack is exactly the one of the stored task
(`[eps, score]`, in that order, the same initial weights, noise seed 1), so its first 20 000
steps are the first 20 000 steps of the stored 100 000. The EMA weights are kept at every
checkpoint, in memory.
''')
code("57265756", r'''
names = ["eps", "score"]  # the networks of E8c, in the order of its stack
runs = mdiff.train_many(
    vp,
    [make_net(output="eps"), make_net()],
    data,
    LIVE_STEPS,
    lr=LR,
    ema=EMA,
    c=[0.0, 0.0],
    checkpoint_every=EVERY,
    generator=torch.Generator().manual_seed(1),
)
runs = dict(zip(names, runs))
checkpoints = sorted(runs["score"].checkpoints)
''', VOLATILE)
keep("596db9b4", "markdown")
code("81910e79", r'''
stacked = runs["score"].steps_per_second  # the joint loop: every model advances a step
print(f"mdiff.train:          {pair[0].steps_per_second:6.0f} steps/s (1 network)")
print(
    f"mdiff.train_many K={len(runs)}: {stacked:6.0f} steps/s "
    f"= {len(runs) * stacked:6.0f} network-steps/s"
)
''', IGNORE)
md("85622d02", r'''
## Samples and the memorized fraction

At every checkpoint we sample the EMA network with the {term}`probability-flow ODE <Probability-flow ODE>`,
with {term}`Heun's method` on the log-$\sigma$ grid of chapter 1 down to $t = 0$, from
starting points drawn as the authors draw theirs, $x(T) = \sigma(T)\,\xi$ with
$\xi\sim\mathcal N(0, I)$. We use the same 1000 starting points for every network and
checkpoint: `mdiff.paper_latents(vp, 1000)`, that is $\sigma(T)\,\xi$ with $\xi$ the normals of
torch's generator seeded 0. These are **not** the authors' latents (their notebooks draw other
random numbers from the seed first), so single samples differ from theirs; the law they are
drawn from is the same. The stored runs use the same starting points and the same solver.

The memorized fraction is

$$
\mathrm{frac}(\mathrm{tol}) = \frac1M\,\#\bigl\{j : \min_n \|\hat x_j - y_n\| < \mathrm{tol}\bigr\},
\qquad M = 1000,
$$

at the four tolerances of the paper. For scale: the nearest neighbours among the 20 points
are typically a few tenths apart, so $\mathrm{frac}(0.5)$ mostly says "near the data" and
$\mathrm{frac}(0.01)$ says "a copy". With $M = 1000$ samples a fraction $p$ carries a
standard error $\sqrt{p(1-p)/M}\le 0.016$, and two networks trained with different noise
draws differ by somewhat more, so we read differences of a few hundredths as noise.
''')
code("89b894ce", r'''
x_T = mdiff.paper_latents(vp, N_SAMPLES)  # sigma(T) xi, torch's normals of seed 0


def sample(net, ode_steps=ODE_STEPS):
    # PF-ODE samples of a network's score from the fixed start x_T
    ts = mdiff.time_grid(vp, ode_steps)
    score = mdiff.score_from_model(vp, net)
    return mdiff.probability_flow(vp, score, x_T, ts, method="heun")


def fractions(x):
    return [mdiff.fraction_within(x, data, tol) for tol in TOLS]


def show(table, title, steps=None):
    # table: {network name: {step: [frac(tol) for tol in TOLS]}}
    print(title)
    print(
        f"{'network':>10} {'step':>7}" + "".join(f"{f'frac({t:g})':>12}" for t in TOLS)
    )
    for name, rows in table.items():
        for step, fr in rows.items():
            if steps is None or step in steps:
                print(f"{name:>10} {step:>7}" + "".join(f"{v:12.3f}" for v in fr))
''')
code("aecb84fb", r'''
frac, samples = {}, {}
for name, run in tqdm(runs.items(), desc="sampling"):
    frac[name], samples[name] = {}, {}
    for step in checkpoints:
        samples[name][step] = sample(run.checkpoint_net(step))
        frac[name][step] = fractions(samples[name][step])
last = checkpoints[-1]
''', VOLATILE)
keep("2685c238", "markdown")
keep("5cd77d25")
md("c9d0a003", r'''
## The live run is the beginning of the stored one

Now the check announced above. The stored run of E8c keeps a checkpoint every 10 000 steps;
the live run has two of them, 10 000 and 20 000. At each, the four fractions of each network,
written with three decimals as in the file, must be *equal*, not merely close:
''')
code("c9d0a004", r'''
def check_prefix(experiment, live):
    # every checkpoint of the live run that the stored run also has: equal fractions
    shared = []
    for variant, by_step in live.items():
        for step, fr in by_step.items():
            if step in stored[experiment][variant]:
                ours = [f"{v:.3f}" for v in fr]
                theirs = [f"{v:.3f}" for v in stored[experiment][variant][step]]
                assert ours == theirs, (experiment, variant, step, ours, theirs)
                shared.append((variant, step, ours))
    assert shared, f"no checkpoint of the live run is stored in {experiment}.csv"
    print(f"{experiment}: live == stored in all {len(shared)} shared rows")
    for variant, step, ours in shared:
        print(f"{variant:>10} {step:>7}  " + "  ".join(ours))
    return shared


shared = check_prefix("E8c", frac)
assert len(shared) == len(names) * len(set(checkpoints) & set(stored["E8c"]["score"]))
''')
md("c9d0a005", r'''
Sixteen numbers, each equal to the last digit. From here on the stored rows beyond 20 000 steps
are the continuation of the very training we just ran.
''')
md("3fba1c36", r'''
## Early stopping

The table lists the memorized fraction of the score-output and the noise-output networks at
every live checkpoint.
''')
code("68fee4ac", r'''
show({k: frac[k] for k in ["score", "eps"]}, "live: memorized fraction at every checkpoint")
for name in ["score", "eps"]:
    for j in [1, 2]:  # tol = 0.05 and tol = 0.1
        first, final = frac[name][checkpoints[0]][j], frac[name][last][j]
        assert final > first, (name, TOLS[j], first, final)
''')
md("8c95b443", r'''
Memorization grows with training: at $\mathrm{tol} = 0.05$ and $0.1$ the fraction at the last
live checkpoint exceeds the one at the first (asserted). The stored run continues the same two
trainings to 100 000 steps:
''')
code("c9d0a006", r'''
E8C_STEPS = [20_000, 50_000, 100_000]
show(stored["E8c"], "stored E8c: memorized fraction", steps=E8C_STEPS)
long8c = stored["E8c"]
for name in ["score", "eps"]:
    for j in [1, 2, 3]:  # tol = 0.05, 0.1, 0.5: more memorized at 100k than at 20k
        assert long8c[name][100_000][j] > long8c[name][20_000][j], (name, TOLS[j])
''')
md("c9d0a007", r'''
XXX-E8C-TEXT
{numref}`fig-09-1` shows every checkpoint; read it from left to right as "what early stopping at
this step would give".
''')
code("5a329095", r'''
colors = mdiff.plotting.PALETTE
kilo = [s / 1000 for s in checkpoints]  # live steps in thousands
fig, axes = plt.subplots(1, 2, figsize=(10.4, 3.6), sharey=True)
for ax, name, title in [
    (axes[0], "score", "score output"),
    (axes[1], "eps", r"$\hat\varepsilon$ output"),
]:
    long_steps = sorted(long8c[name])
    for j, tol in enumerate(TOLS):
        ys = [long8c[name][s][j] for s in long_steps]
        ax.plot([s / 1000 for s in long_steps], ys, color=colors[j], label=f"tol={tol:g}")
        live = [frac[name][s][j] for s in checkpoints]
        ax.plot(kilo, live, "o", ms=4, color=colors[j], zorder=5)
    ax.set(title=title, xlabel="training step (thousands)", ylim=(0, 1.02))
axes[0].set_ylabel("memorized fraction frac(tol)")
axes[0].plot([], [], "ko", ms=4, label="live run")
axes[0].plot([], [], "k-", label="stored run")
axes[0].legend(fontsize=9, ncol=2)
plt.show()
''', fig(
    "Two panels, score output and noise output: memorized fraction frac(tol) against training "
    "step up to 100 000 for four tolerances, stored runs as lines and the live run's checkpoints "
    "up to 20 000 as filled markers lying on the lines.",
    "XXX-FIG1-CAPTION",
    "fig-09-1",
))
md("d1fb9303", r'''
The scatter plots show the 1000 samples (orange) of the live run over the {term}`Voronoi diagram <Voronoi cell>` of the training
points (black) at the first and the last live checkpoint. Early on the samples form a blurred
cloud around the data. Later they gather at the training points, more tightly for the
noise-output network (bottom row), and along thin curves joining neighbouring training
points: the network interpolates between the points before it learns to separate them.
''')
code("e37498e6", r'''
fig, axes = plt.subplots(2, 2, figsize=(6.4, 6.4), sharex=True, sharey=True)
for row, name in enumerate(["score", "eps"]):
    for col, step in enumerate([checkpoints[0], last]):
        ax = axes[row, col]
        mdiff.plotting.voronoi(ax, data)
        x = samples[name][step].numpy()
        ax.scatter(x[:, 0], x[:, 1], s=2, color=colors[1], alpha=0.5, zorder=5)
        kind = "score output" if name == "score" else r"$\hat\varepsilon$ output"
        ax.set_title(f"{kind}, step {step} (live)", fontsize=9)
for ax in axes[1]:
    ax.set_xlabel("$x_1$")
for ax in axes[:, 0]:
    ax.set_ylabel("$x_2$")
plt.show()
''', fig(
    "Samples of the score-output (top) and noise-output (bottom) networks of the live run over "
    "the Voronoi diagram of the 20 training points at 5 000 and 20 000 steps: a blurred cloud "
    "early, gathered at the training points and along curves joining them late, most tightly "
    "for the noise output.",
    "Samples (orange) of the live run's score-output (top) and noise-output (bottom) networks "
    "over the Voronoi diagram of the training points, at the first and the last live checkpoint. "
    "Training gathers the blurred early cloud onto the training points and onto thin curves "
    "between neighbours, most tightly for the noise output.",
    "fig-09-2",
))
md("6c233925", r'''
## The learned score along $t$

Why does the noise-output network get closer to the data? Fix a point near a training point,
$x = y_1 + \delta$ with $\|\delta\| = 0.1$, and follow the
scores of the two live networks at 20 000 steps as $t \to 0$. Near $y_1$ the exact score is $s^N(x, t) \approx (m(t) y_1 - x)/\sigma(t)^2$,
which grows like $1/\sigma^2$. A ReLU network with the bounded Fourier features of $t$ has a
bounded output on bounded inputs, so the score-output network levels off, and the
noise-output network's score $-\hat\varepsilon_\theta/\sigma$ can grow at most like $1/\sigma$.
The figure shows $\|s\|$ against $\sigma(t)$ on logarithmic axes, with the slopes fitted over
the last decade of $\sigma$.
''')
code("b5a6c75e", r'''
ts_line = torch.logspace(-5, 0, 61, dtype=torch.float64)
delta = torch.tensor([0.1, 0.0], dtype=torch.float64)
x_line = (data[0] + delta).expand(len(ts_line), 2)
curves = {"s^N": mdiff.empirical_score(vp, data)(x_line, ts_line)}
for name, label in [("score", "score output"), ("eps", "eps output")]:
    net = runs[name].checkpoint_net(last)
    curves[label] = mdiff.score_from_model(vp, net)(x_line, ts_line)
norms = {k: v.norm(dim=1) for k, v in curves.items()}
sig = vp.sigma(ts_line)
i = int((sig < 10 * sig[0]).sum()) - 1  # fit over the last decade of sigma
slopes = {
    k: float((v[i] / v[0]).log() / (sig[i] / sig[0]).log()) for k, v in norms.items()
}
for k, v in norms.items():
    print(f"{k:>12}: |s| at t = 1e-5 is {float(v[0]):9.3g}; slope {slopes[k]:6.2f}")
assert abs(slopes["s^N"] + 2) < 0.1 and abs(slopes["score output"]) < 0.1
assert abs(slopes["eps output"] + 1) < 0.1
''')
keep("6a71eee5")
keep("8a719525", "markdown")
md("1368d08f", r'''
## Under-parameterization: the width

Next, networks of widths 32, 64 and 128 (score output, $c = 0$, the same settings and the
same initial weights of their width): the experiment E7. Width 256 is the score-output network
trained above, so E7 and E8c share it.
''')
md("c9a1e2f0", r'''
```{exercise} Do wider networks memorize sooner?
:label: ex-09-predict-width
:class: kind-predict

Before you run the width sweep of this chapter (the next cells), predict. A width-32 network has about 2 500 trainable
parameters, a width-256 network about 135 000; all are trained for the same number of steps
on the same 20 points. At the end of the live run (20 000 steps), will $\mathrm{frac}(0.1)$
rise or fall with the width? And at the end of the stored run (100 000 steps): will the
narrowest network have caught up, will every width memorize a large part of its samples, or
will the narrow ones stall? Write your guess for the ordering in the cell below, then run the
experiment; the answer is under the results.
```
''')
keep("c9a1e2f1")
keep("c9a1e2f2", "markdown")
keep("c9a1e2f3")
md("c9d0a008", r'''
`mdiff.ensemble.pad` and `mdiff.ensemble.unpad` are the package's versions of `padded` and
`unpadded`; the stored E7 run used them. They give the same networks, weight for weight:
''')
code("c9d0a009", r'''
for width in WIDTHS:
    ours, theirs = padded(make_net(width), 128), mdiff.ensemble.pad(make_net(width), 128)
    a, b = ours.state_dict(), theirs.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    back = mdiff.ensemble.unpad(a, make_net(width)).state_dict()
    mine = unpadded(a, width).state_dict()
    assert all(torch.equal(back[k], mine[k]) for k in mine)
print("padded == mdiff.ensemble.pad and unpadded == mdiff.ensemble.unpad, widths", WIDTHS)
''')
md("c9d0a010", r'''
The live width run is the stack of the stored E7 task: the three networks padded to width 128,
in the order 32, 64, 128, with the seeds above.
''')
code("ddcc0676", r'''
width_nets = [make_net(width) for width in WIDTHS]
width_runs = mdiff.train_many(
    vp,
    [mdiff.ensemble.pad(net, max(WIDTHS)) for net in width_nets],
    data,
    LIVE_STEPS,
    lr=LR,
    ema=EMA,
    c=[0.0] * len(WIDTHS),
    checkpoint_every=EVERY,
    generator=torch.Generator().manual_seed(1),
)
for net, run in zip(width_nets, width_runs):
    frac[f"width={net.width}"] = {
        step: fractions(sample(mdiff.ensemble.unpad(run.checkpoints[step], net)))
        for step in checkpoints
    }
frac[f"width={WIDTH}"] = frac["score"]
''', VOLATILE)
code("c9d0a011", r'''
shared = check_prefix("E7", {f"width={w}": frac[f"width={w}"] for w in WIDTHS})
''')
code("0e09b73f", r'''
width_names = [f"width={w}" for w in [*WIDTHS, WIDTH]]
show({k: frac[k] for k in width_names}, "live: memorized fraction by width")
live_final = [frac[k][last][2] for k in width_names]  # frac(0.1) at 20k
assert all(a < b for a, b in zip(live_final, live_final[1:])), live_final
print("your prediction:", prediction, "| live run: wider networks memorize more")
''')
code("998989f2", r'''
long7 = stored["E7"]
show({k: long7[k] for k in width_names}, "stored E7: frac by width", steps=[100_000])
XXX-E7-ASSERTS
LEVEL = XXX-LEVEL
for k in width_names:
    reached = [s for s in sorted(long7[k]) if long7[k][s][2] >= LEVEL]
    print(
        f"{k:>10}: frac(0.1) >= {LEVEL} first at step",
        reached[0] if reached else "never (to 100 000)",
    )
''')
md("45a50a8f", r'''
{numref}`fig-09-4` shows $\mathrm{frac}(0.1)$ against the training step for each width
(dotted: the level of the crossing times).

```{admonition} What happened, and why
:class: dropdown

XXX-WIDTH-ANSWER
```
''')
code("9c0cd440", r'''
fig, ax = plt.subplots(figsize=(6.4, 3.6))
for k, color in zip(width_names, colors):
    long_steps = sorted(long7[k])
    ys = [long7[k][s][2] for s in long_steps]
    ax.plot([s / 1000 for s in long_steps], ys, color=color, label=k.replace("=", " "))
    ax.plot(kilo, [frac[k][s][2] for s in checkpoints], "o", ms=4, color=color, zorder=5)
ax.axhline(LEVEL, color="0.6", lw=0.8, ls=":")
ax.plot([], [], "ko", ms=4, label="live run")
ax.plot([], [], "k-", label="stored run")
ax.set(xlabel="training step (thousands)", ylabel="frac(0.1)", ylim=(0, None))
ax.legend(fontsize=9, ncol=2)
plt.show()
''', fig(
    "frac(0.1) against training step up to 100 000 for widths 32, 64, 128 and 256: stored runs "
    "as lines, the live checkpoints up to 20 000 as filled markers on them, and a dotted level "
    "line.",
    "XXX-FIG4-CAPTION",
    "fig-09-4",
))
md("84c5e670", r'''
XXX-WIDTH-AFTER

## Parameterization: noise output against score output

The two networks of E8c differ only in their output. Side by side, at tolerances 0.05 and 0.1,
at every stored checkpoint (the rows up to 20 000 steps are also the live run's):
''')
code("5d1733bf", r'''
print(
    f"{'step':>7}"
    + "".join(f"{f'eps {t:g}':>10}{f'score {t:g}':>11}{'gap':>7}" for t in TOLS[1:3])
)
gaps = {}
for step in sorted(long8c["eps"]):
    e, s = long8c["eps"][step], long8c["score"][step]
    gaps[step] = [e[j] - s[j] for j in [1, 2]]
    row = "".join(f"{e[j]:10.3f}{s[j]:11.3f}{e[j] - s[j]:7.3f}" for j in [1, 2])
    print(f"{step:>7}" + row)
XXX-GAP-ASSERTS
''')
exec(open("/tmp/ch09b/cells_tik_full.py" if HAVE["E8d"] else "/tmp/ch09b/cells_tik_pending.py").read())
XXX_E9_MENTION = (
    "; and from a stored run (E9), with a compact U-Net on the rectangles at $16\\times16$ "
    "(below)" if HAVE["E9"] else
    " (the stored U-Net run E9 of `make long-runs`, at $16\\times16$, was not yet written when "
    "this page was executed)"
)
md("86f720fb", r'''
## Images: memorization arrives late

The authors' last experiment (E9) trains a large U-Net (about 56 million parameters, 50 000
epochs) on the two rectangle images of chapters 5 and 7 and finds that its samples become
copies of the training images only late in training {cite}`baptista2025memorization`.
That is far beyond a CPU. We show the same effect at small scale: live, with the MLP of
this chapter on the two $64\times64$ rectangles **downsampled to $8\times8$** by averaging
$8\times8$ blocks (pixel values mapped to $[-1, 1]$), input dimension 64, width 256 and the
noise output''' + XXX_E9_MENTION + r'''. With only two training images we draw a batch of 16 noisy copies per step
(indices with replacement) instead of the full batch of two, which makes the gradients
less noisy.
''')
keep("cf582776")
keep("3cc07f51", "markdown")
code("1af23422", r'''
img_start = mdiff.paper_latents(vp, 64, d=IMG_PIX**2)  # sigma(T) xi, seed 0 as above
img_steps = sorted(img_run.checkpoints)
img_samples, copies, img_rms = {}, {}, {}
print(f"{'step':>7} {'copies':>8} {'median rms pixel distance':>27}")
for step in img_steps:
    score = mdiff.score_from_model(vp, img_run.checkpoint_net(step))
    x = mdiff.probability_flow(vp, score, img_start, mdiff.time_grid(vp, ODE_STEPS))
    img_samples[step] = x
    copies[step] = float(mdiff.memorized(x, images).double().mean())
    img_rms[step] = float(mdiff.nearest_distance(x, images).median()) / IMG_PIX
    print(f"{step:>7} {copies[step]:8.3f} {img_rms[step]:27.3f}")
assert copies[img_steps[-1]] > copies[img_steps[0]] + 0.2
''')
keep("0e1994ac", "markdown")

keep("ba3c68dc")
if HAVE["E9"]:
    exec(open("/tmp/ch09b/cells_e9.py").read())
exec(open("/tmp/ch09b/cells_authors.py").read())
for cid, kind in [("c459e5e4", "markdown"), ("ad03833f", "markdown"), ("d44566e2", "markdown"),
                  ("f172c40f", "code"), ("8f88e139", "markdown"), ("74bf576a", "code"),
                  ("8a3428ac", "markdown"), ("8e099d77", "markdown"), ("c9a1e2f4", "markdown"),
                  ("3c539461", "code"), ("9b6c04db", "markdown"), ("0dcae174", "code"),
                  ("6b6c02c4", "markdown"), ("3f14c6bd", "markdown"), ("c9a1e2f5", "markdown"),
                  ("b656127e", "code"), ("5fd5dab0", "markdown"), ("dbe3ccec", "code")]:
    keep(cid, kind)
md("c47fb57c", r'''
XXX-SUMMARY
''')
