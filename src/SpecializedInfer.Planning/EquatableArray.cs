using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning;

/// <summary>
/// An immutable array compared by its elements, so records holding lists stay value-equal, which incremental
/// generator caching depends on.
/// </summary>
public readonly struct EquatableArray<T> : System.IEquatable<EquatableArray<T>>, IReadOnlyList<T>
{
    private readonly T[]? _items;

    public EquatableArray(IEnumerable<T> items) => _items = items.ToArray();

    public static EquatableArray<T> Empty => new(System.Array.Empty<T>());

    public int Count => _items?.Length ?? 0;
    public T this[int index] => _items![index];
    public bool IsEmpty => Count == 0;

    public bool Equals(EquatableArray<T> other)
    {
        if (Count != other.Count) return false;
        var cmp = EqualityComparer<T>.Default;
        for (var i = 0; i < Count; i++)
            if (!cmp.Equals(_items![i], other._items![i])) return false;
        return true;
    }

    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        unchecked
        {
            var h = 17;
            if (_items is not null)
                foreach (var item in _items) h = h * 31 + (item is null ? 0 : EqualityComparer<T>.Default.GetHashCode(item));
            return h;
        }
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(_items ?? System.Array.Empty<T>())).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "[" + string.Join(", ", this) + "]";

    public static bool operator ==(EquatableArray<T> left, EquatableArray<T> right) => left.Equals(right);
    public static bool operator !=(EquatableArray<T> left, EquatableArray<T> right) => !left.Equals(right);
}

public static class EquatableArray
{
    public static EquatableArray<T> ToEquatableArray<T>(this IEnumerable<T> items) => new(items);
}
