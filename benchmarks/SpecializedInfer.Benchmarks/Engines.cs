using SpecializedInfer;

namespace SpecializedInfer.Benchmarks;

[SpecializedEngine("models/stories260K.full.plan.json")]
public partial class Stories260KFull;

[SpecializedEngine("models/stories15M.full.plan.json")]
public partial class Stories15MFull;

[SpecializedEngine("models/stories110M.full.plan.json")]
public partial class Stories110MFull;

[SpecializedEngine("models/stories110M-q8_0.full.plan.json")]
public partial class Stories110MQ8Full;

[SpecializedEngine("models/stories110M-q4_0.full.plan.json")]
public partial class Stories110MQ4Full;

[SpecializedEngine("models/stories110M-q8_0.draft3.plan.json")]
public partial class Stories110MQ8Draft3;

[SpecializedEngine("models/stories110M-q8_0.draft6.plan.json")]
public partial class Stories110MQ8Draft6;

[SpecializedEngine("../../models/stories260K.lossless.plan.json")]
public partial class Stories260KLossless;

[SpecializedEngine("models/stories260K.learned-draft2.plan.json")]
public partial class Stories260KLearnedDraft2;

[SpecializedEngine("models/stories260K.learned-draft3.plan.json")]
public partial class Stories260KLearnedDraft3;

[SpecializedEngine("models/stories260K.learned-draft4.plan.json")]
public partial class Stories260KLearnedDraft4;

[SpecializedEngine("models/tinyllama-1.1b-q8_0.full.plan.json")]
public partial class TinyLlamaQ8Full;

[SpecializedEngine("models/tinyllama-1.1b-q4_0.full.plan.json")]
public partial class TinyLlamaQ4Full;
