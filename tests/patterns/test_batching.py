"""Classifying in small batches (to keep activations small) gives the one-batch probabilities."""

import numpy as np

from engine.patterns.checkpoint import SHIPPED, load_checkpoint
from engine.patterns.cnn import inference_copy, probabilities
from engine.patterns.synthetic import generate


def test_small_batches_match_one_batch_for_the_shipped_cnn():
    loaded = load_checkpoint(SHIPPED)
    net = inference_copy(loaded.model)
    images = generate(30, seed=99, window=loaded.window).images(height=loaded.height)  # 300 windows
    one = probabilities(net, images, batch=len(images))
    default = probabilities(net, images)
    tiny = probabilities(net, images, batch=7)
    assert default.shape == one.shape == (len(images), len(loaded.classes))
    np.testing.assert_allclose(default, one, atol=1e-6)
    np.testing.assert_allclose(tiny, one, atol=1e-6)
    assert (default.argmax(axis=1) == one.argmax(axis=1)).all()


def test_predict_renders_in_chunks_with_the_same_probabilities_as_one_batch(tmp_path):
    from engine.data.synthetic import synthetic_panel
    from engine.models.protocol import ModelContext
    from engine.patterns.model import PatternModel
    from engine.patterns.render import panel_windows, render_windows

    model = PatternModel()
    model.warmup(ModelContext(checkpoint_dir=str(tmp_path), threads=1))
    panel = synthetic_panel(300, 80, seed=5)
    o, h, l, c = panel_windows(panel, panel.n_bars - 1, window=model.window_)
    whole = model.classify(render_windows(o, h, l, c, height=model.height_))
    chunked = model._render_and_classify(o, h, l, c, chunk=64)
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
