md("b77d3710", r'''
XXX-GAP-TEXT

## A Tikhonov penalty in training

Finally the penalty $c\|s_\theta\|^2$ of {eq}`eq-ch9-loss`, the experiment E8d: four
score-output networks with $c = 10^{-4}, 10^{-3}, 10^{-2}, 10^{-1}$, trained for 500 000 steps
(two stored stacks of two networks each; no live run, it would take too long). Its minimizer over all
functions is $s_c = (m\bar x - x)/(\sigma^2 + c)$, the closed form of chapter 7
(`mdiff.tikhonov_score`), so next to every network we also sample $s_c$ itself, live, with
the same ODE solver and the same starting points ($c = 0$ is $s^N$, next to the
score-output network of E8c).
''')
code("b5799cb4", r'''
long8d = dict(stored["E8d"])
long8d["c=0"] = long8c["score"]  # c = 0: the score network of E8c (to 100 000 steps)
exact = {}
for c in [0.0, *CS]:
    score = mdiff.tikhonov_score(vp, data, c)
    ts = mdiff.time_grid(vp, ODE_STEPS)
    exact[c] = fractions(mdiff.probability_flow(vp, score, x_T, ts, method="heun"))
print(f"{'c':>7} {'step':>7}" + "".join(f"{f'net {t:g}':>10}{f'exact':>7}" for t in TOLS))
for c in [0.0, *CS]:
    runs_c = long8d[f"c={c:g}"]
    for step in [100_000, max(runs_c)] if max(runs_c) > 100_000 else [100_000]:
        row = "".join(f"{a:10.3f}{b:7.3f}" for a, b in zip(runs_c[step], exact[c]))
        print(f"{c:>7g} {step:>7}" + row)
''')
code("2f33573a", r'''
end = max(long8d[f"c={CS[0]:g}"])  # 500 000
net_end = {c: long8d[f"c={c:g}"][end] for c in CS}
XXX-PEN-ASSERTS
''')
md("22e5fd53", r'''
XXX-PEN-TEXT
''')
code("71787fdc", r'''
fig, axes = plt.subplots(1, 2, figsize=(10.4, 3.6))
ax = axes[0]
for (c, color) in zip([0.0, *CS], colors):
    runs_c = long8d[f"c={c:g}"]
    long_steps = sorted(runs_c)
    ax.plot([s / 1000 for s in long_steps], [runs_c[s][2] for s in long_steps],
            color=color, label=f"c = {c:g}" + (" (E8c)" if c == 0 else ""))
ax.set(xlabel="training step (thousands)", ylabel="frac(0.1)", ylim=(0, 1.02))
ax.legend(fontsize=9)
ax = axes[1]
xs = [CS[0] / 10] + CS  # c = 0 plotted one decade left of 1e-4
ax.semilogx(xs, [long8d[f"c={c:g}"][100_000][2] for c in [0.0, *CS]], "o-",
            color=colors[0], label="network, 100 000 steps")
ax.semilogx(CS, [net_end[c][2] for c in CS], "^-", color=colors[3],
            label="network, " + f"{end:,} steps".replace(",", " "))
ax.semilogx(xs, [exact[c][2] for c in [0.0, *CS]], "s--", color=colors[2],
            label="exact minimizer $s_c$")
ax.set_xticks(xs, ["0"] + [f"$10^{{{round(math.log10(c))}}}$" for c in CS])
ax.set(xlabel="penalty $c$", ylabel="frac(0.1)", ylim=(0, 1.02))
ax.legend(fontsize=9)
plt.show()
''', fig(
    "Left: frac(0.1) against training step for the four penalties up to 500 000 steps and for "
    "c = 0 up to 100 000 (stored runs). Right: frac(0.1) against the penalty c for the trained "
    "networks at 100 000 and 500 000 steps and for the exact minimizers s_c.",
    "XXX-FIG5-CAPTION",
    "fig-09-5",
))
