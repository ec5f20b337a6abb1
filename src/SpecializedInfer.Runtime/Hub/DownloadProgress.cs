namespace SpecializedInfer.Hub;

/// <summary>How far a download is: <paramref name="Received"/> bytes of <paramref name="Total"/> (null when the server did not say).</summary>
public readonly record struct DownloadProgress(string Name, long Received, long? Total);
