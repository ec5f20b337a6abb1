using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace SpecializedInfer.Planning;

/// <summary>
/// An immutable list compared by its elements. Records keep their lists in fields of this type, so record equality
/// stays value-based (incremental generator caching and schedule comparisons depend on it), while their public
/// properties show <see cref="IReadOnlyList{T}"/>: the type is a planning detail, not part of the API a user learns.
/// </summary>
public sealed class EquatableArray<T> : System.IEquatable<EquatableArray<T>>, IReadOnlyList<T>
{
    private readonly T[] _items;

    public EquatableArray(IEnumerable<T> items) => _items = items.ToArray();

    public static EquatableArray<T> Empty { get; } = new(System.Array.Empty<T>());

    public int Count => _items.Length;
    public T this[int index] => _items[index];
    public bool IsEmpty => Count == 0;

    public bool Equals(EquatableArray<T>? other)
    {
        if (ReferenceEquals(this, other)) return true;
        if (other is null || Count != other.Count) return false;
        var cmp = EqualityComparer<T>.Default;
        for (var i = 0; i < Count; i++)
            if (!cmp.Equals(_items[i], other._items[i])) return false;
        return true;
    }

    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        unchecked
        {
            var h = 17;
            foreach (var item in _items) h = h * 31 + (item is null ? 0 : EqualityComparer<T>.Default.GetHashCode(item));
            return h;
        }
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "[" + string.Join(", ", this) + "]";

    public static bool operator ==(EquatableArray<T>? left, EquatableArray<T>? right) => left is null ? right is null : left.Equals(right);
    public static bool operator !=(EquatableArray<T>? left, EquatableArray<T>? right) => !(left == right);
}

public static class EquatableArray
{
    /// <summary>The items as an equatable list; an equatable list is returned as it is (it is immutable), null as empty.</summary>
    public static EquatableArray<T> ToEquatableArray<T>(this IEnumerable<T>? items) => items switch
    {
        null => EquatableArray<T>.Empty,
        EquatableArray<T> already => already,
        _ => new EquatableArray<T>(items),
    };
}
