"""Segment planning: cuts to spans, flicker merged, long shots split, fixed windows, pauses, VFR."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from omnidex.segment.spans import Span, frame_energy, scene_spans, silence_spans, time_spans


def assert_covers(spans: list[Span], n_frames: int) -> None:
    assert spans[0].start_frame == 0
    assert spans[-1].end_frame == n_frames
    assert all(a.end_frame == b.start_frame for a, b in itertools.pairwise(spans))
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in itertools.pairwise(spans))


def test_cuts_become_spans_with_times() -> None:
    spans = scene_spans([90, 300], n_frames=600, fps=30.0)
    assert [(s.start_frame, s.end_frame) for s in spans] == [(0, 90), (90, 300), (300, 600)]
    assert [(s.start_s, s.end_s) for s in spans] == [(0.0, 3.0), (3.0, 10.0), (10.0, 20.0)]


def test_flicker_merged_into_a_neighbour() -> None:
    # A 4-frame flash at 150: two cuts 0.13 s apart.
    spans = scene_spans([150, 154, 400], n_frames=600, fps=30.0, min_segment_s=1.0)
    assert [(s.start_frame, s.end_frame) for s in spans] == [(0, 150), (150, 400), (400, 600)]


def test_short_last_span_joins_the_previous_one() -> None:
    # 5 frames at 30 fps: flicker, under the default min_segment_s
    spans = scene_spans([300, 595], n_frames=600, fps=30.0)
    assert [(s.start_frame, s.end_frame) for s in spans] == [(0, 300), (300, 600)]


def test_rapid_cuts_grouped_into_spans_of_min_length() -> None:
    spans = scene_spans(list(range(10, 600, 10)), n_frames=600, fps=30.0, min_segment_s=1.0)
    assert_covers(spans, 600)
    assert all(s.duration_s >= 1.0 - 1e-9 for s in spans)


def test_static_three_minutes_split_into_parts_of_at_most_max() -> None:
    n = 180 * 30
    spans = scene_spans([], n_frames=n, fps=30.0, max_segment_s=30.0)
    assert 6 <= len(spans) <= 7
    assert_covers(spans, n)
    assert all(s.duration_s <= 30.0 + 1e-9 for s in spans)
    assert spans[-1].end_s == pytest.approx(180.0)


def test_vfr_times_come_from_pts() -> None:
    # 10 s at 30 fps, then 10 s at 10 fps: index / fps would put frame 400 at 20 s.
    pts = [i / 30 for i in range(300)] + [10 + i / 10 for i in range(100)]
    spans = scene_spans([300], n_frames=400, fps=20.0, pts=pts)
    assert [(s.start_frame, s.end_frame) for s in spans] == [(0, 300), (300, 400)]
    assert spans[1].start_s == pytest.approx(10.0)
    assert spans[1].end_s == pytest.approx(pts[-1] + 1 / 20)


def test_vfr_split_keeps_parts_within_max() -> None:
    rng = np.random.default_rng(0)
    pts = np.cumsum(rng.uniform(0.01, 0.2, size=3000)).tolist()
    spans = scene_spans([], n_frames=3000, fps=10.0, pts=pts, max_segment_s=20.0)
    assert_covers(spans, 3000)
    assert all(s.duration_s <= 20.0 + 1e-9 for s in spans)


def test_bad_pts_rejected() -> None:
    with pytest.raises(ValueError, match="pts"):
        scene_spans([], n_frames=3, fps=30.0, pts=[0.0, 0.1])
    with pytest.raises(ValueError, match="increasing"):
        scene_spans([], n_frames=3, fps=30.0, pts=[0.0, 0.2, 0.1])


def test_bad_limits_rejected() -> None:
    with pytest.raises(ValueError, match="min_segment_s"):
        scene_spans([], n_frames=30, fps=30.0, min_segment_s=5.0, max_segment_s=2.0)


def test_time_spans_near_equal_windows() -> None:
    spans = time_spans(95.0, fps=25.0, window_s=30.0)
    assert len(spans) == 4
    assert_covers(spans, 95 * 25)
    assert all(s.duration_s <= 30.0 for s in spans)
    assert spans[-1].end_s == pytest.approx(95.0)


def tone_and_pauses() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """16 kHz: tone bursts of 4-8 s separated by quiet pauses; returns samples and the pauses."""
    rate = 16_000
    rng = np.random.default_rng(0)
    parts, pauses, t = [], [], 0.0
    for talk_s, pause_s in [(5.0, 0.8), (7.0, 1.2), (4.0, 0.3), (6.0, 0.7), (8.0, 0.0)]:
        n = int(talk_s * rate)
        parts.append(0.5 * np.sin(2 * np.pi * 220 * np.arange(n) / rate))
        t += talk_s
        if pause_s:
            parts.append(rng.normal(0, 0.001, int(pause_s * rate)))
            pauses.append((t, t + pause_s))
            t += pause_s
    return np.concatenate(parts).astype(np.float32), pauses


def test_silence_spans_cut_in_the_pauses() -> None:
    samples, pauses = tone_and_pauses()
    spans = silence_spans(samples, sample_rate=16_000)
    cut_times = [s.start_s for s in spans[1:]]
    long_pauses = [p for p in pauses if p[1] - p[0] >= 0.5]  # the 0.3 s pause does not cut
    assert len(cut_times) == len(long_pauses)
    for cut, (a, b) in zip(cut_times, long_pauses, strict=True):
        assert a < cut < b
        assert cut == pytest.approx((a + b) / 2, abs=0.05)
    assert spans[-1].end_s == pytest.approx(len(samples) / 16_000, abs=0.01)


def test_silence_spans_accepts_energy_and_splits_long_speech() -> None:
    energy = frame_energy(np.ones(16_000 * 70, np.float32), 16_000)
    assert len(energy) == 7000
    spans = silence_spans(energy, max_segment_s=30.0)
    assert len(spans) == 3
    assert all(s.duration_s <= 30.0 for s in spans)
