md("c9d0a030", r'''
## The authors' numbers

The paper shows its network experiments as figures. Printed numbers exist for one of them: the
authors' notebook `2DGaussianPoints/VE_SinguarNN.ipynb` in their repository
{cite}`baptista2025code` (despite its name it runs the VP schedule; it is the comparison of the
score output, their "nonsingular" network, with the noise output, their "singular" one, E8c)
prints $\mathrm{frac}(\mathrm{tol})$ of both networks at the four tolerances after every
10 000 of its 100 000 training steps. The next cell holds those printed numbers as they appear
in the notebook's stored output. XXX-NOT-FOUND

Their run and ours share the network, the optimizer, the learning rate, the EMA decay, the
data, the full batch and the tolerances, and differ in everything random: the initial weights
(theirs come from the global generator, a different draw for each network), the noise of every
training step, and the 1000 starting points (drawn after training). They also integrate the
ODE with an adaptive Runge–Kutta solver and use another EMA library with its own warm-up. So
single numbers cannot agree to the last digit; what can agree is the size and the trend.
''')
code("c9d0a031", r'''
# frac(tol) printed by the authors' notebook 2DGaussianPoints/VE_SinguarNN.ipynb
# (baptista2025code): one row per tol (0.01, 0.05, 0.1, 0.5), one column per 10 000 steps
AUTHORS_E8C = {
    "score": [  # their "nonsingular" network
        [0.0, 0.006, 0.01, 0.018, 0.022, 0.027, 0.04, 0.048, 0.05, 0.049],
        [0.04, 0.08, 0.17, 0.267, 0.361, 0.426, 0.489, 0.539, 0.576, 0.617],
        [0.131, 0.249, 0.416, 0.531, 0.641, 0.721, 0.769, 0.801, 0.84, 0.864],
        [0.957, 0.991, 0.996, 0.999, 0.998, 0.999, 1.0, 0.998, 1.0, 0.999],
    ],
    "eps": [  # their "singular" network
        [0.002, 0.015, 0.029, 0.039, 0.071, 0.08, 0.085, 0.097, 0.118, 0.138],
        [0.072, 0.214, 0.36, 0.48, 0.555, 0.638, 0.696, 0.736, 0.767, 0.81],
        [0.225, 0.475, 0.657, 0.752, 0.816, 0.861, 0.883, 0.907, 0.919, 0.938],
        [0.986, 0.996, 0.998, 1.0, 1.0, 1.0, 1.0, 0.999, 1.0, 1.0],
    ],
}
authors = {
    name: {10_000 * (i + 1): [row[i] for row in rows] for i in range(10)}
    for name, rows in AUTHORS_E8C.items()
}
print(f"{'network':>8} {'step':>7}   ours: frac at 4 tols        theirs: frac at 4 tols")
for name in ["score", "eps"]:
    for step in [20_000, 50_000, 100_000]:
        ours = "".join(f"{v:7.3f}" for v in long8c[name][step])
        theirs = "".join(f"{v:7.3f}" for v in authors[name][step])
        print(f"{name:>8} {step:>7}  {ours}     {theirs}")
XXX-AUTHORS-ASSERTS
''')
md("c9d0a032", r'''
XXX-AUTHORS-TEXT
''')
