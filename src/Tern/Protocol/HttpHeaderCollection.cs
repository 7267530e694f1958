using System.Collections;

namespace Tern.Protocol;

/// <summary>
/// The header fields of a request, in the order they were received, looked up by case-insensitive name.
/// </summary>
/// <remarks>
/// Field lines are kept as received: a name sent twice gives two entries (see <see cref="GetValues"/>), and
/// enumeration yields every line with the name's original casing. Lookups scan the few fields a handshake carries,
/// which is cheaper than building a dictionary per connection. Instances are immutable and safe to share.
/// </remarks>
public sealed class HttpHeaderCollection : IEnumerable<KeyValuePair<string, string>>
{
    private readonly KeyValuePair<string, string>[] _fields;

    /// <summary>Creates a collection from field lines, for example to build a request in a test.</summary>
    /// <param name="fields">Name/value pairs in order; a name may repeat.</param>
    /// <exception cref="ArgumentException">A name is not an RFC 9110 token or a value holds control characters.</exception>
    public HttpHeaderCollection(IEnumerable<KeyValuePair<string, string>> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        _fields = [.. fields];
        foreach (var (name, value) in _fields)
        {
            if (name is null || !HttpSyntax.IsToken(name))
            {
                throw new ArgumentException($"Header name '{name}' is not a valid token.", nameof(fields));
            }

            if (value is null || !HttpSyntax.IsFieldValue(value))
            {
                throw new ArgumentException($"The value of header '{name}' is missing or holds control characters.",
                    nameof(fields));
            }
        }
    }

    private HttpHeaderCollection(KeyValuePair<string, string>[] fields, bool _) => _fields = fields;

    /// <summary>An empty collection.</summary>
    public static HttpHeaderCollection Empty { get; } = new([], false);

    /// <summary>Wraps fields the parser has already validated, without copying them.</summary>
    internal static HttpHeaderCollection FromValidatedFields(KeyValuePair<string, string>[] fields) =>
        fields.Length == 0 ? Empty : new HttpHeaderCollection(fields, false);

    /// <summary>The number of field lines; a name sent twice counts twice.</summary>
    public int Count => _fields.Length;

    /// <summary>
    /// The value of the named field (case-insensitive), or <see langword="null"/> if absent. A name sent on several
    /// lines gives the values joined with ", ", as RFC 9110 §5.3 allows for list-based fields.
    /// </summary>
    public string? this[string name]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(name);
            string? first = null;
            foreach (var field in _fields)
            {
                if (NameEquals(field.Key, name))
                {
                    if (first is not null)
                    {
                        return string.Join(", ", GetValues(name));
                    }

                    first = field.Value;
                }
            }

            return first;
        }
    }

    /// <summary>The values of every line with the given name (case-insensitive), in order; empty if absent.</summary>
    public IReadOnlyList<string> GetValues(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        List<string>? values = null;
        foreach (var field in _fields)
        {
            if (NameEquals(field.Key, name))
            {
                (values ??= new List<string>(1)).Add(field.Value);
            }
        }

        return values ?? (IReadOnlyList<string>)[];
    }

    /// <summary>How many lines carry the name, and the value of the first, without allocating.</summary>
    internal int CountValues(string name, out string? firstValue)
    {
        firstValue = null;
        int count = 0;
        foreach (var field in _fields)
        {
            if (NameEquals(field.Key, name))
            {
                firstValue ??= field.Value;
                count++;
            }
        }

        return count;
    }

    /// <summary>Whether a field with the given name (case-insensitive) is present.</summary>
    public bool Contains(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var field in _fields)
        {
            if (NameEquals(field.Key, name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether the named field, read as a comma-separated list across all its lines, holds <paramref name="token"/>
    /// (compared case-insensitively after trimming optional whitespace), e.g. <c>Connection: keep-alive, Upgrade</c>
    /// holds <c>upgrade</c>.
    /// </summary>
    public bool ContainsToken(string name, string token)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(token);
        foreach (var field in _fields)
        {
            if (!NameEquals(field.Key, name))
            {
                continue;
            }

            ReadOnlySpan<char> value = field.Value;
            foreach (Range item in value.Split(','))
            {
                if (value[item].Trim(HttpSyntax.Whitespace).Equals(token, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Every comma-separated item of the named field across all its lines, in order, trimmed of optional
    /// whitespace, with empty items dropped; empty if the field is absent.
    /// </summary>
    public IReadOnlyList<string> GetTokens(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        List<string>? tokens = null;
        foreach (var field in _fields)
        {
            if (!NameEquals(field.Key, name))
            {
                continue;
            }

            ReadOnlySpan<char> value = field.Value;
            foreach (Range item in value.Split(','))
            {
                var token = value[item].Trim(HttpSyntax.Whitespace);
                if (!token.IsEmpty)
                {
                    (tokens ??= []).Add(token.Length == value.Length ? field.Value : token.ToString());
                }
            }
        }

        return tokens ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Enumerates the field lines in the order received, without allocating.</summary>
    public Enumerator GetEnumerator() => new(_fields);

    IEnumerator<KeyValuePair<string, string>> IEnumerable<KeyValuePair<string, string>>.GetEnumerator() =>
        GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static bool NameEquals(string fieldName, string name) =>
        StringComparer.OrdinalIgnoreCase.Equals(fieldName, name);

    /// <summary>Enumerates the field lines of an <see cref="HttpHeaderCollection"/>.</summary>
    public struct Enumerator : IEnumerator<KeyValuePair<string, string>>
    {
        private readonly KeyValuePair<string, string>[] _fields;
        private int _index;

        internal Enumerator(KeyValuePair<string, string>[] fields)
        {
            _fields = fields;
            _index = -1;
        }

        /// <summary>The current field line.</summary>
        public readonly KeyValuePair<string, string> Current => _fields[_index];

        readonly object IEnumerator.Current => Current;

        /// <summary>Advances to the next field line.</summary>
        public bool MoveNext() => ++_index < _fields.Length;

        /// <summary>Restarts the enumeration.</summary>
        public void Reset() => _index = -1;

        /// <summary>Does nothing; present for <see cref="IDisposable"/>.</summary>
        public readonly void Dispose()
        {
        }
    }
}
