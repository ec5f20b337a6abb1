namespace SpecializedInfer.Planning.Decisions;

/// <summary>
/// A generated token that left at no exit point stops after step <see cref="LastStep"/> (the decode depth − 1) and answers
/// with the model's own head. <see cref="ReusesExitLogits"/>: an exit point after that step already computed exactly
/// those logits (its test needed the head and it uses the model's), so the head does not run again.
/// </summary>
public sealed record DecodeEnd(int LastStep, bool ReusesExitLogits, KvLeave Leave);
