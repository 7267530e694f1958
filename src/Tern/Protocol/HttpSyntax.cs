using System.Buffers;
using System.Text;

namespace Tern.Protocol;

/// <summary>
/// The character classes of RFC 9110 §5.6 and the HTTP-version syntax of RFC 9112 §2.3, shared by the request
/// parser, the header collection and the response writers so that what is accepted and what is written agree.
/// </summary>
internal static class HttpSyntax
{
    private const string TokenCharacters =
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private static readonly SearchValues<byte> TokenBytes = SearchValues.Create(Encoding.ASCII.GetBytes(TokenCharacters));

    private static readonly SearchValues<char> TokenChars = SearchValues.Create(TokenCharacters);

    // A field value may hold HTAB, SP, VCHAR and obs-text (0x80-0xFF); every other byte is a control character.
    private static readonly SearchValues<byte> NonFieldValueBytes = SearchValues.Create(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
         31, 127]);

    /// <summary>Optional whitespace (OWS): SP and HTAB.</summary>
    public static ReadOnlySpan<byte> WhitespaceBytes => " \t"u8;

    /// <summary>Optional whitespace (OWS) as characters.</summary>
    public const string Whitespace = " \t";

    public static bool IsTokenByte(byte value) => TokenBytes.Contains(value);

    public static bool IsToken(ReadOnlySpan<byte> value) => !value.IsEmpty && !value.ContainsAnyExcept(TokenBytes);

    public static bool IsToken(ReadOnlySpan<char> value) => !value.IsEmpty && !value.ContainsAnyExcept(TokenChars);

    public static bool IsFieldValue(ReadOnlySpan<byte> value) => !value.ContainsAny(NonFieldValueBytes);

    /// <summary>
    /// Whether <paramref name="value"/> can be written as a field value: besides the control characters, anything
    /// above U+00FF is refused because header bytes are Latin-1 and would be silently replaced.
    /// </summary>
    public static bool IsFieldValue(ReadOnlySpan<char> value)
    {
        foreach (char c in value)
        {
            if (c != '\t' && (c < ' ' || c == '\u007F' || c > '\u00FF'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Parses <c>HTTP/DIGIT.DIGIT</c> exactly (the name is case-sensitive).</summary>
    public static bool TryParseVersion(ReadOnlySpan<byte> version, out int major, out int minor)
    {
        if (version.Length == 8 && version.StartsWith("HTTP/"u8) && char.IsAsciiDigit((char)version[5])
            && version[6] == '.' && char.IsAsciiDigit((char)version[7]))
        {
            major = version[5] - '0';
            minor = version[7] - '0';
            return true;
        }

        major = minor = 0;
        return false;
    }

    /// <inheritdoc cref="TryParseVersion(ReadOnlySpan{byte}, out int, out int)"/>
    public static bool TryParseVersion(ReadOnlySpan<char> version, out int major, out int minor)
    {
        if (version.Length == 8 && version.StartsWith("HTTP/", StringComparison.Ordinal)
            && char.IsAsciiDigit(version[5]) && version[6] == '.' && char.IsAsciiDigit(version[7]))
        {
            major = version[5] - '0';
            minor = version[7] - '0';
            return true;
        }

        major = minor = 0;
        return false;
    }
}
