namespace SpecializedInfer.Hub;

/// <summary>
/// A model in the cache: <paramref name="Path"/> is the GGUF file to load. <paramref name="Downloaded"/> and
/// <paramref name="Converted"/> say what this pull did (both false when the cache already had it);
/// <paramref name="Tokenizer"/> is the tokenizer file a llama2.c checkpoint was converted with.
/// </summary>
public sealed record PulledModel(string Path, bool Downloaded, bool Converted, string? Tokenizer = null);
