using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Tern.Chat.Accounts;

/// <summary>
/// Session tokens: 32 random bytes in base64url (43 characters), which only the browser keeps (in its cookie). The
/// store keeps their SHA-256 in lower-case hex, so a copy of the database does not let anyone sign in.
/// </summary>
public static class SessionTokens
{
    /// <summary>Random bytes per token.</summary>
    public const int TokenBytes = 32;

    /// <summary>Characters of a token: base64url of <see cref="TokenBytes"/> bytes, without padding.</summary>
    public const int TokenLength = 43;

    /// <summary>A new random token.</summary>
    public static string NewToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(TokenBytes));

    /// <summary>The form the store keeps: SHA-256 of the token's ASCII, lower-case hex.</summary>
    public static string Hash(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }

    /// <summary>
    /// True when the text has a token's shape (43 base64url characters). Anything else cannot be a session, so it is
    /// refused without a database lookup.
    /// </summary>
    public static bool IsWellFormed(string? token)
    {
        if (token is null || token.Length != TokenLength)
        {
            return false;
        }

        foreach (char c in token)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
            {
                return false;
            }
        }

        return true;
    }
}
