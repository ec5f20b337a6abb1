using SpecializedInfer;

namespace SpecializedInfer.Benchmarks;

[SpecializedEngine("models/stories260K.full.plan.json")]
public partial class Stories260KFull;

[SpecializedEngine("models/stories15M.full.plan.json")]
public partial class Stories15MFull;

[SpecializedEngine("models/stories110M.full.plan.json")]
public partial class Stories110MFull;
