"""The paper's figures and claims, as data: one Part per figure (its model file and sizes) and one
Claim per statement of the paper (its value, our extractor, the check). A new claim is one more
entry in CLAIMS; the paper's numbers are those of MODEL.md's experiment table and the issues'
lists of what must hold."""

from __future__ import annotations

from .checks import Check, Claim
from .extract import AtExamples, GapShare, Metric, Ratio, Summary, TTest
from .part import Part


def _arms(*names: str) -> str:
    """``--set arms=...`` with one task per arm, so the arms of a part run in parallel."""
    return "arms=" + ",".join(f'["{n}"]' for n in names)


PARTS: list[Part] = [
    Part("fig2", "Figure 2a, b", "fig2_linear.toml", seeds_quick=5, seeds_full=20,
         about="30-20-10 linear network learning a random linear map: backprop, feedback alignment, "
               "shallow learning and node perturbation on the same example stream."),
    Part("fig3a", "Figure 3a, b", "fig3a_mnist.toml", seeds_quick=2, seeds_full=20,
         sets_quick=(_arms("bp", "fa", "shallow", "fa_sparse"),),
         sets_full=("runs=1", _arms("bp", "fa", "shallow", "fa_sparse")),
         about="784-1000-10 logistic network on MNIST; each seed is one run (new W, new B, new example "
               "order), every arm of a seed starts from the same W.", priority=2,
         protocol="As the paper: learning parameters tuned for backprop alone and used for every arm, all arms "
                  "stopped after the same number of examples, where backprop's error stops falling; here "
                  "chosen on a validation split of the training set (the last 10,000 images), never on the "
                  "test set (`scripts/fig3a_protocol.py`, below).",
         appendix=("protocol.md", "fa_vs_bp.md")),
    Part("fig3d", "Figure 3d", "fig3d_deep.toml", seeds_quick=1, seeds_full=1,
         sets_quick=(_arms("bp3", "fa3", "bp4", "fa4", "fa4_frozen_w0"),),
         sets_full=(_arms("shallow3", "bp3", "fa3", "bp4", "fa4", "fa4_frozen_w0"),),
         about="3 vs 4 layer tanh networks fitting a fixed random 4-layer tanh network; the runs of an "
               "arm share the target and B (paper) and differ in initial weights and example stream.",
         priority=1,
         protocol="As the paper: one learning rate, tuned for backprop and shared with FA; every arm trains on "
                  "the same number of examples. Why 4-layer FA does not end exactly on 4-layer backprop: the "
                  "ablation below (`scripts/fig3d_ablation.py`).",
         appendix=("ablation.md",)),
    Part("fig4", "Figure 4", "fig4_spiking_32streams.toml", seeds_quick=1, seeds_full=3,
         about="784-1500-1500-1500-1000 continuous-time network of stochastic spiking units learning "
               "MNIST by feedback alignment.", priority=3,
         protocol="The paper's network and learning rule, trained with 32 streams sharing the weights "
                  "(plasticity summed: each image changes the weights as much as with one stream, at about "
                  "9x the speed) for 1.5M images from eta = 3e-3 per step, lowered x0.3 whenever the error on "
                  "10,000 held-out training images stops falling; after training the test readout's M "
                  "(5, 10, 20 or 40 steps) is chosen on those held-out images and the test set is tested once "
                  "(none of these is in the paper). models/fig4_spiking.toml is the paper's one-stream "
                  "network, which 10 epochs would take about 7 hours here. The study behind these choices "
                  "is reports/fig4_training/."),
    Part("fig4_60k", "Figure 4, all 60k", "fig4_spiking_32streams_60k.toml", seeds_quick=1, seeds_full=4,
         about="The same network trained on all 60,000 training images.", priority=3,
         protocol="The fig4 part's training, with what its held-out runs decided fixed in advance: eta = 3e-3 "
                  "per step lowered x0.3 at 1.02M, 1.26M and 1.44M images (where the plateau rule lowered it "
                  "for seed 0) and the test readout at M = 20 (the lowest validation error on average over the "
                  "three seeds); then every training image trains, none is held out, and the test set decides "
                  "nothing. The study is reports/fig4_training/."),
    Part("fig5", "Figure 5a, c", "fig5_quadratic.toml", seeds_quick=2, seeds_full=5,
         about="20-1000-20 tanh network learning a quadratic map: alignment of W with B^T, and the "
               "three-phase protocol."),
    Part("compare", "Rate vs spiking", "compare_rate_spiking.toml", seeds_quick=1, seeds_full=1,
         about="The spiking network beside its rate limit, from the same weights on the same images.",
         priority=3),
]


def _nse(arm: str) -> Metric:
    return Metric(arm, "nse")


def _err(arm: str) -> Metric:
    return Metric(arm, "test_error", scale=100.0)


def _speed(arm: str) -> Summary:
    return Summary("examples_to_nse_0.01", (("arm", arm),))


CLAIMS: list[Claim] = [
    # Figure 2: linear network
    Claim("fig2", "Fig. 2a", "FA learns as fast as backprop (examples to reach NSE 0.01, FA ÷ BP)",
          "as fast", Ratio(_speed("fa"), _speed("bp")), Check("<=", 1.5)),
    Claim("fig2", "Fig. 2a", "FA's NSE within 1.5x of backprop's (after 250 examples, mid-learning: at the "
          "end of the full run both sit at float rounding)", "as low",
          Ratio(AtExamples("fa", "nse", 250), AtExamples("bp", "nse", 250)), Check("<=", 1.5)),
    Claim("fig2", "Fig. 2a", "Shallow learning barely lowers the loss (final NSE, shallow ÷ FA)",
          "hardly decreases", Ratio(_nse("shallow"), _nse("fa")), Check(">=", 10)),
    Claim("fig2", "Fig. 2a", "Shallow far behind backprop too (final NSE, shallow ÷ BP)",
          "hardly decreases", Ratio(_nse("shallow"), _nse("bp")), Check(">=", 10)),
    Claim("fig2", "Fig. 2a", "Node perturbation learns, but slower than FA (final NSE, NP ÷ FA)",
          "slow", Ratio(_nse("node_perturbation"), _nse("fa")), Check(">", 1)),
    Claim("fig2", "Fig. 2a", "Node perturbation beats shallow learning (final NSE, NP ÷ shallow)",
          "learns", Ratio(_nse("node_perturbation"), _nse("shallow")), Check("<", 1)),
    Claim("fig2", "Fig. 2b", "angle(δFA, δBP) starts near 90° (first 10 examples)", "90°",
          Metric("fa", "angle_delta", at="first", tail=10), Check(">=", 75), unit="°"),
    Claim("fig2", "Fig. 2b", "angle(δFA, δBP) shrinks well below 90° (last 10 examples)", "falls",
          Metric("fa", "angle_delta", tail=10), Check("<=", 60), unit="°"),
    Claim("fig2", "Fig. 2b", "angle(δFA, δBP) never reaches 0 (lowest sliding mean)", "> 0°",
          Metric("fa", "angle_delta_mean", at="min"), Check(">=", 5), unit="°"),
    # Figure 3a, b: MNIST
    Claim("fig3a", "Fig. 3a", "Backprop's test error (mean of n runs)", "2.4%", _err("bp"), Check("<=", 2.4),
          unit="%", full_size_only=True),
    Claim("fig3a", "Fig. 3a", "FA's test error (mean of n runs)", "2.1%", _err("fa"), Check("<=", 2.1),
          unit="%", full_size_only=True),
    Claim("fig3a", "Fig. 3a", "FA with 50% of W and B removed: test error", "2.4%", _err("fa_sparse"),
          Check("<=", 2.4), unit="%", full_size_only=True),
    Claim("fig3a", "Fig. 3a", "FA matches backprop (test error, FA ÷ BP)", "0.88 (2.1/2.4)",
          Ratio(_err("fa"), _err("bp")), Check("<=", 1.1),
          missed_because="FA leads early (FA ÷ BP 0.81 after one epoch, as the paper's 0.88) and backprop "
                         "passes it as both train on to backprop's best; see FA against backprop along training"),
    Claim("fig3a", "Fig. 3a", "Shallow learning is far worse (test error, shallow ÷ FA)", "far worse",
          Ratio(_err("shallow"), _err("fa")), Check(">=", 1.5)),
    Claim("fig3a", "Fig. 3b", "angle(δFA, δBP) falls below 90° and stays (last block mean)", "< 90°",
          Metric("fa", "angle_delta_mean"), Check("<", 90), unit="°"),
    # Figure 3d: depth
    Claim("fig3d", "Fig. 3d", "FA better with 4 layers than 3 (t-test on final NSE, p)", "P = 9e-13 (n=20)",
          TTest(_nse("fa4"), _nse("fa3")), Check("<", 0.01), full_size_only=True),
    Claim("fig3d", "Fig. 3d", "Backprop better with 4 layers than 3 (t-test on final NSE, p)", "P = 3e-12 (n=20)",
          TTest(_nse("bp4"), _nse("bp3")), Check("<", 0.01), full_size_only=True),
    Claim("fig3d", "Fig. 3d", "FA performs as well as backprop, 4 layers, read strictly (final NSE, FA ÷ BP; "
          "backprop's 4-layer net fits the 4-layer target to float rounding, see the ablation)", "as well",
          Ratio(_nse("fa4"), _nse("bp4")), Check("<=", 1.5),
          missed_because="backprop's NSE is float rounding, so any residue of FA is a large ratio; the "
                         "ratio is above 1.5 in every arm of the ablation, and the next row's reading holds"),
    Claim("fig3d", "Fig. 3d", "FA performs as well as backprop, 4 layers, read on the figure's linear scale: "
          "4-layer FA ends with 4-layer backprop, not with the 3-layer nets (share of the gap BP3 − BP4 that "
          "FA4 leaves open; 0 = on BP4, 1 = on BP3)", "as well",
          GapShare(_nse("fa4"), _nse("bp4"), _nse("bp3")), Check("<", 0.5)),
    Claim("fig3d", "Supp. Fig. 6", "Freezing W0 removes FA's gain from depth (t-test, 4 layers W0 frozen "
          "better than 3 layers, p)", "no gain", TTest(_nse("fa4_frozen_w0"), _nse("fa3")), Check(">", 0.05)),
    Claim("fig3d", "Supp. Fig. 6", "Learning in W0 matters: 4-layer FA beats 4-layer FA with W0 frozen "
          "(t-test, p)", "gain", TTest(_nse("fa4"), _nse("fa4_frozen_w0")), Check("<", 0.01), full_size_only=True),
    # Figure 4: spiking network
    Claim("fig4", "Fig. 4", "Spiking network's final test error on MNIST (at the test steps M chosen on held-out "
          "training images)", "1.8%", Summary("chosen_test_error", (("arm", "fa"),), scale=100.0), Check("<=", 1.8),
          unit="%", full_size_only=True,
          missed_because="by 0.08 points: three seeds end at 1.81% (M = 40 chosen), 1.90% and 1.92% (M = 20) after "
                         "1.5M images, 1.2-1.3 h each on one core, with 0.4% training error; the study in "
                         "reports/fig4_training/ shows what each choice bought (eta 3e-3: 2.8% to about 2.0-2.2%; M "
                         "chosen on held-out images: to 1.81-1.92%) and that spiking noise is not the limit"),
    Claim("fig4", "Fig. 4", "Spiking network learns (test error clearly below chance, 90%)", "learns", _err("fa"),
          Check("<", 80), unit="%"),
    Claim("fig4_60k", "Fig. 4", "Spiking network's final test error on MNIST, trained on all 60k training images "
          "(schedule and M fixed from the held-out runs)", "1.8%", Summary("test_error", (("arm", "fa"),),
                                                                           scale=100.0),
          Check("<=", 1.8), unit="%", full_size_only=True,
          missed_because="by 0.0025 points (mean 1.8025%), well inside the spread over seeds: the four seeds end "
                         "at 1.63, 1.98, 1.86 and 1.74% after 1.5M images, 1.8 h each on one core; two of the four "
                         "are below 1.8%, and the schedule and M were fixed before these runs, never chosen on "
                         "the test set"),
    # Rate vs spiking (the paper trains its spiking net only; these are spikefa's own checks)
    Claim("compare", "Fig. 3a vs 4", "The spiking net learns about as well as its rate limit (test error, "
          "spiking − rate, in points; paper: 1.8% spiking vs 2.1% rate)", "−0.3 points",
          Summary("error_gap", (("run", "main"),), scale=100.0), Check("<=", 2.0), unit=" pts",
          full_size_only=True),
    Claim("compare", "—", "Spiking and rate weight updates point the same way (angle between them)",
          "— (not in the paper)", Summary("update_angle_deg", (("run", "main"),)), Check("<", 45), unit="°"),
    # Figure 5: alignment
    Claim("fig5", "Fig. 5a", "angle(W, Bᵀ) falls well below 90° (end of training; read as ≤ 60°, the reading of "
          "Fig. 2b's \"well below 90°\": the paper gives a direction, not a value)", "falls well below 90°",
          Metric("fa", "angle_W_BT"), Check("<=", 60), unit="°", full_size_only=True),
    Claim("fig5", "Fig. 5a", "Single hidden units align too (median angle, column of W vs row of B)",
          "below 90°", Summary("unit_angle_median", (("arm", "fa"),)), Check("<=", 60), unit="°",
          full_size_only=True),
    Claim("fig5", "Fig. 5c", "Phase 1 (W frozen, W0 learns) leaves the error flat (NSE end ÷ start)",
          "no reduction", Summary("phase1_end_ratio", (("arm", "phases"),)), Check(">=", 0.95)),
    Claim("fig5", "Fig. 5c", "Phase 3 (W frozen again) lowers the error (NSE end ÷ start)", "reduces",
          Summary("phase3_end_ratio", (("arm", "phases"),)), Check("<", 0.95)),
]


def part_names() -> list[str]:
    return [p.name for p in PARTS]
