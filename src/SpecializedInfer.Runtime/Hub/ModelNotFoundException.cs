namespace SpecializedInfer.Hub;

/// <summary>A model named on the command line or in code that is in none of the places looked at; the message lists them.</summary>
public sealed class ModelNotFoundException(string model, string message) : FileNotFoundException(message, model)
{
    /// <summary>The model as it was named.</summary>
    public string Model { get; } = model;
}
