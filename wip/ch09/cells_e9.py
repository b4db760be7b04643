md("c9d0a020", r'''
### The stored image run: a compact U-Net at $16\times16$

The stored run E9 trains a small convolutional network, `mdiff.models.UNet` (a compact U-Net
with two resolutions, noise output), on the two rectangles pooled to $16\times16$, for
40 000 steps with a batch of 16 noisy copies, and samples 64 images from
`mdiff.paper_latents(vp, 64, d=256)` every 4 000 steps. Its file holds, per checkpoint, the
fraction of copies by the same ratio test and the median RMS pixel distance to the nearest
training image, and eight of the samples at four checkpoints. It is stored only: a live
U-Net run of a useful length does not fit this chapter's budget.
''')
code("c9d0a021", r'''
about["E9"], rows9 = mdiff.long_run("E9")
e9 = {r["steps"]: (r["copies"], r["median_rms"]) for r in rows9 if r["tol"] != ""}
e9_samples = {}
for r in rows9:
    if r["tol"] == "":  # a stored sample: 256 pixel values
        pixels = torch.tensor([float(v) for v in r["pixels"].split()])
        e9_samples.setdefault(r["steps"], []).append(pixels)
print(f"{'step':>7} {'copies':>8} {'median rms pixel distance':>27}")
for step, (cp, rms) in sorted(e9.items()):
    print(f"{step:>7} {cp:8.3f} {rms:27.3f}")
e9_steps = sorted(e9)
XXX-E9-ASSERTS
''')
md("c9d0a022", r'''
XXX-E9-TEXT
''')
code("c9d0a023", r'''
fig, axes = plt.subplots(1, 2, figsize=(10.4, 3.4))
for ax, j, label in [(axes[0], 0, "fraction of copies"), (axes[1], 1, "median RMS distance")]:
    ax.plot([s / 1000 for s in e9_steps], [e9[s][j] for s in e9_steps], color=colors[0],
            label="stored: U-Net, 16x16")
    live = [copies[s] for s in img_steps] if j == 0 else [img_rms[s] for s in img_steps]
    ax.plot([s / 1000 for s in img_steps], live, "o", ms=4, color=colors[1],
            label="live: MLP, 8x8")
    ax.set(xlabel="training step (thousands)", ylabel=label, ylim=(0, None))
axes[0].set_ylim(0, 1.02)
axes[0].legend(fontsize=9)
plt.show()
''', fig(
    "Two panels against training step: the fraction of copies (left) and the median RMS pixel "
    "distance to the nearest training image (right), for the stored U-Net run on 16x16 "
    "rectangles (line) and the live MLP run on 8x8 rectangles (filled markers).",
    "XXX-FIG7-CAPTION",
    "fig-09-7",
))
code("c9d0a024", r'''
pooled16 = torch.nn.functional.avg_pool2d(big, 4).reshape(2, -1)
images16 = 2 * pooled16 - 1  # the training images of E9, pixels in [-1, 1]
shown = sorted(e9_samples)
fig, axes = plt.subplots(len(shown) + 1, 8, figsize=(7.2, 1.0 * (len(shown) + 1)))
for ax in axes.flat:
    ax.set_axis_off()
panels = [(0, k, images16[k], "training") for k in range(2)]
panels += [
    (r + 1, k, img, f"step {step}" if k == 0 else "")
    for r, step in enumerate(shown)
    for k, img in enumerate(e9_samples[step][:8])
]
for r, k, img, title in panels:
    axes[r, k].imshow(img.reshape(16, 16), cmap="gray_r", vmin=-1, vmax=1)
    axes[r, k].set_title(title, fontsize=9)
plt.show()
''', fig(
    "Grid of 16x16 images: the two training rectangles in the top row, then eight stored "
    "samples of the U-Net at each of four checkpoints, one row per checkpoint.",
    "XXX-FIG8-CAPTION",
    "fig-09-8",
))
