namespace Tern.Chat.Accounts;

/// <summary>
/// The rules for new passwords: 8 to 256 characters (UTF-16 code units), anything else allowed, as NIST SP 800-63B
/// advises (no composition rules; length is what makes a password hard to guess). The upper bound only keeps the
/// hashing input reasonable.
/// </summary>
public static class PasswordRules
{
    /// <summary>Fewest characters in a password.</summary>
    public const int MinLength = 8;

    /// <summary>Most characters in a password.</summary>
    public const int MaxLength = 256;

    /// <summary>The sentence for people that the <c>bad_password</c> error carries.</summary>
    public const string Description = "A password is 8 to 256 characters long.";

    /// <summary>True when a new password may be used.</summary>
    public static bool IsAcceptable(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        return password.Length is >= MinLength and <= MaxLength;
    }
}
