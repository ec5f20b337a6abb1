using System.Globalization;

namespace SpecializedInfer.Cli;

/// <summary>A usage mistake: printed with the command's usage, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Parsed arguments of one command: positionals and <c>--name value</c> / <c>--flag</c> options. Every option a
/// command reads is declared through the getters, and <see cref="EnsureAllUsed"/> rejects the rest, so a typo is
/// an error rather than a silently ignored setting.
/// </summary>
public sealed class CommandLine
{
    // Every value given per option; options read with String() must appear once, those read with Strings() may repeat.
    private readonly Dictionary<string, List<string?>> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly List<string> _positionals = [];
    private readonly HashSet<string> _flags;

    public CommandLine(IEnumerable<string> args, params string[] flags)
    {
        _flags = new HashSet<string>(flags, StringComparer.Ordinal);
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var arg = e.Current;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                var name = arg[2..];
                string? value = null;
                var eq = name.IndexOf('=');
                if (eq >= 0) (name, value) = (name[..eq], name[(eq + 1)..]);
                else if (!_flags.Contains(name))
                {
                    if (!e.MoveNext()) throw new UsageException($"Option --{name} needs a value.");
                    value = e.Current;
                }
                Add(name, value);
            }
            else if (arg == "-n")
            {
                if (!e.MoveNext()) throw new UsageException("Option -n needs a value.");
                Add("n", e.Current);
            }
            else _positionals.Add(arg);
        }
    }

    public IReadOnlyList<string> Positionals => _positionals;

    private void Add(string name, string? value)
    {
        if (!_options.TryGetValue(name, out var values)) _options[name] = values = [];
        values.Add(value);
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        if (_options.TryGetValue(name, out var values) && values.Count > 1) throw new UsageException($"Option --{name} is given twice.");
        return _options.ContainsKey(name);
    }

    public string? String(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var values)) return null;
        if (values.Count > 1) throw new UsageException(name == "n" ? "Option -n is given twice." : $"Option --{name} is given twice.");
        return values[0];
    }

    /// <summary>Every value of an option that may be repeated (<c>--plan A --plan B</c>), in order.</summary>
    public IReadOnlyList<string> Strings(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out var values) ? values.Select(v => v ?? throw new UsageException($"Option --{name} needs a value.")).ToList() : [];
    }

    public string RequiredString(string name) =>
        String(name) ?? throw new UsageException($"Option --{name} is required.");

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var text = String(name);
        if (text is null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new UsageException($"Option --{name} needs a whole number from {min} to {max}, got '{text}'.");
        return v;
    }

    public ulong ULong(string name, ulong fallback)
    {
        var text = String(name);
        if (text is null) return fallback;
        return ulong.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v : throw new UsageException($"Option --{name} needs a non-negative whole number, got '{text}'.");
    }

    public float Float(string name, float fallback, float min, float max)
    {
        var text = String(name);
        if (text is null) return fallback;
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v >= min && v <= max))
            throw new UsageException($"Option --{name} needs a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}, got '{text}'.");
        return v;
    }

    /// <summary>Rejects options the command did not read and more positionals than it takes.</summary>
    public void EnsureAllUsed(int maxPositionals)
    {
        var unknown = _options.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"Unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}.");
        if (_positionals.Count > maxPositionals) throw new UsageException($"Unexpected argument '{_positionals[maxPositionals]}'.");
    }
}
