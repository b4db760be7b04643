md("b77d3710", r'''
XXX-GAP-TEXT

## A Tikhonov penalty in training

Finally the penalty $c\|s_\theta\|^2$ of {eq}`eq-ch9-loss`, the experiment E8d: score-output
networks with $c = 10^{-4}, 10^{-3}, 10^{-2}, 10^{-1}$, which the authors train for 500 000
steps. `make long-runs` stores that run as `results/E8d.csv` (two stacks of two networks, no
live run: it would take far too long); **when this page was executed that file was not yet
written**, so this section shows only what needs no long training. The penalty's minimizer
over all functions is $s_c = (m\bar x - x)/(\sigma^2 + c)$, the closed form of chapter 7
(`mdiff.tikhonov_score`); we sample it live with the same ODE solver and the same starting
points, and put the unpenalized network of E8c ($c = 0$) next to $s_c$ for $c = 0$, which is
$s^N$.
''')
code("b5799cb4", r'''
exact = {}
for c in [0.0, *CS]:
    score = mdiff.tikhonov_score(vp, data, c)
    ts = mdiff.time_grid(vp, ODE_STEPS)
    exact[c] = fractions(mdiff.probability_flow(vp, score, x_T, ts, method="heun"))
print(f"{'':>24}" + "".join(f"{f'frac({t:g})':>12}" for t in TOLS))
for c in [0.0, *CS]:
    print(f"{f'exact s_c, c = {c:g}':>24}" + "".join(f"{v:12.3f}" for v in exact[c]))
for step in [LIVE_STEPS, 100_000]:
    row = long8c["score"][step]
    print(f"{f'network c = 0, {step}':>24}" + "".join(f"{v:12.3f}" for v in row))
XXX-PEN-ASSERTS
''')
md("22e5fd53", r'''
XXX-PEN-TEXT
''')
