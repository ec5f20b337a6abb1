using SpecializedInfer;

namespace TinyStories;

/// <summary>stories260K exactly as trained: every layer at full depth.</summary>
[SpecializedEngine("models/stories260K.full.plan.json")]
public partial class StoriesFull;

/// <summary>stories260K with an early exit: confident tokens skip the last layer.</summary>
[SpecializedEngine("models/stories260K.fast.plan.json")]
public partial class StoriesFast;
