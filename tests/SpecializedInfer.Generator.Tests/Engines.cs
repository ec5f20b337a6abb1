using SpecializedInfer;

namespace SpecializedInfer.Generator.Tests.Engines;

// One generated engine per plan under Plans/ (each a [SpecializedEngine] partial class; the generator fills it in).
// EngineCatalog finds them by reflection; a test checks every plan file has one.

[SpecializedEngine("Plans/mha.depth.plan.json")] public partial class MhaDepth;
[SpecializedEngine("Plans/mha.full.plan.json")] public partial class MhaFull;
[SpecializedEngine("Plans/mha.rand7.plan.json")] public partial class MhaRand7;
[SpecializedEngine("Plans/odd.exits.plan.json")] public partial class OddExits;
[SpecializedEngine("Plans/odd.full.plan.json")] public partial class OddFull;
[SpecializedEngine("Plans/odd.lossless.plan.json")] public partial class OddLossless;
[SpecializedEngine("Plans/odd.rand5.plan.json")] public partial class OddRand5;
[SpecializedEngine("Plans/oddh.exithead.plan.json")] public partial class OddhExithead;
[SpecializedEngine("Plans/s260.combo.plan.json")] public partial class S260Combo;
[SpecializedEngine("Plans/s260.cosskip.plan.json")] public partial class S260Cosskip;
[SpecializedEngine("Plans/s260.depth.plan.json")] public partial class S260Depth;
[SpecializedEngine("Plans/s260.depth2.plan.json")] public partial class S260Depth2;
[SpecializedEngine("Plans/s260.ensemble.plan.json")] public partial class S260Ensemble;
[SpecializedEngine("Plans/s260.entropy.plan.json")] public partial class S260Entropy;
[SpecializedEngine("Plans/s260.exit0.plan.json")] public partial class S260Exit0;
[SpecializedEngine("Plans/s260.exitnever.plan.json")] public partial class S260Exitnever;
[SpecializedEngine("Plans/s260.fast.plan.json")] public partial class S260Fast;
[SpecializedEngine("Plans/s260.full.plan.json")] public partial class S260Full;
[SpecializedEngine("Plans/s260.learnedexit.plan.json")] public partial class S260Learnedexit;
[SpecializedEngine("Plans/s260.learnedskip.plan.json")] public partial class S260Learnedskip;
[SpecializedEngine("Plans/s260.lossless.plan.json")] public partial class S260Lossless;
[SpecializedEngine("Plans/s260.losslessexit.plan.json")] public partial class S260Losslessexit;
[SpecializedEngine("Plans/s260.margin.plan.json")] public partial class S260Margin;
[SpecializedEngine("Plans/s260.merge.plan.json")] public partial class S260Merge;
[SpecializedEngine("Plans/s260.multiexit.plan.json")] public partial class S260Multiexit;
[SpecializedEngine("Plans/s260.patience.plan.json")] public partial class S260Patience;
[SpecializedEngine("Plans/s260.prune.plan.json")] public partial class S260Prune;
[SpecializedEngine("Plans/s260.prune2.plan.json")] public partial class S260Prune2;
[SpecializedEngine("Plans/s260.rand0.plan.json")] public partial class S260Rand0;
[SpecializedEngine("Plans/s260.rand1.plan.json")] public partial class S260Rand1;
[SpecializedEngine("Plans/s260.rand2.plan.json")] public partial class S260Rand2;
[SpecializedEngine("Plans/s260.rand3.plan.json")] public partial class S260Rand3;
[SpecializedEngine("Plans/s260.rand4.plan.json")] public partial class S260Rand4;
[SpecializedEngine("Plans/s260.recompute.plan.json")] public partial class S260Recompute;
[SpecializedEngine("Plans/s260.recomputecombo.plan.json")] public partial class S260Recomputecombo;
[SpecializedEngine("Plans/s260.recomputedepth.plan.json")] public partial class S260Recomputedepth;
[SpecializedEngine("Plans/s260.reorder.plan.json")] public partial class S260Reorder;
[SpecializedEngine("Plans/s260.repeat.plan.json")] public partial class S260Repeat;
[SpecializedEngine("Plans/s260.repeatshare.plan.json")] public partial class S260Repeatshare;
[SpecializedEngine("Plans/s260.saturation.plan.json")] public partial class S260Saturation;
[SpecializedEngine("Plans/s260.shallow0.plan.json")] public partial class S260Shallow0;
[SpecializedEngine("Plans/s260.share.plan.json")] public partial class S260Share;
[SpecializedEngine("Plans/s260.sublayer.plan.json")] public partial class S260Sublayer;
[SpecializedEngine("Plans/s260.sublayerlossless.plan.json")] public partial class S260Sublayerlossless;
[SpecializedEngine("Plans/s260.sublayerrecompute.plan.json")] public partial class S260Sublayerrecompute;
[SpecializedEngine("Plans/s260h.exithead.plan.json")] public partial class S260hExithead;
[SpecializedEngine("Plans/s260h.losslesshead.plan.json")] public partial class S260hLosslesshead;
[SpecializedEngine("Plans/s260r.combo.plan.json")] public partial class S260rCombo;
[SpecializedEngine("Plans/wide.combo.plan.json")] public partial class WideCombo;
[SpecializedEngine("Plans/wide.full.plan.json")] public partial class WideFull;
[SpecializedEngine("Plans/wide.lossless.plan.json")] public partial class WideLossless;
[SpecializedEngine("Plans/wide.rand6.plan.json")] public partial class WideRand6;
