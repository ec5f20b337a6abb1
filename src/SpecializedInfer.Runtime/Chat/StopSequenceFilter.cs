namespace SpecializedInfer.Chat;

/// <summary>
/// Cuts streamed text at the first stop sequence. Text that could still turn out to be the beginning of a stop sequence
/// is held back until the next chunk decides, so no piece of a stop sequence is ever emitted; once one appears,
/// everything before it is emitted and the rest dropped. Not thread-safe: one instance per stream.
/// </summary>
internal sealed class StopSequenceFilter(IReadOnlyList<string> stops)
{
    private readonly string[] _stops = stops.Where(s => s.Length > 0).ToArray();
    private string _pending = "";

    /// <summary>True once a stop sequence was found; later text is ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds text; returns what can be emitted now.</summary>
    public string Push(string text)
    {
        if (Stopped || text.Length == 0) return "";
        if (_stops.Length == 0) return text;
        _pending += text;
        var first = -1;
        foreach (var stop in _stops)
        {
            var at = _pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        if (first >= 0)
        {
            Stopped = true;
            var before = _pending[..first];
            _pending = "";
            return before;
        }
        // Hold back the longest tail that a stop sequence begins with.
        var hold = 0;
        foreach (var stop in _stops)
            for (var length = Math.Min(stop.Length - 1, _pending.Length); length > hold; length--)
                if (_pending.AsSpan(_pending.Length - length).SequenceEqual(stop.AsSpan(0, length))) { hold = length; break; }
        var ready = _pending[..^hold];
        _pending = _pending[^hold..];
        return ready;
    }

    /// <summary>Ends the stream: held-back text was not a stop sequence after all.</summary>
    public string Flush()
    {
        var rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }
}
