using System.Text;
using System.Text.RegularExpressions;

namespace Tern.Chat.Hub;

/// <summary>What makes a valid nickname or room name, and when two of them are the same.</summary>
public static partial class ChatNames
{
    /// <summary>
    /// Returns the room's canonical name (Unicode-normalized, lower case), or null when <paramref name="name"/> is not
    /// 1 to <paramref name="maxLength"/> letters, digits, '-' or '_' starting with a letter or digit.
    /// </summary>
    public static string? NormalizeRoom(string? name, int maxLength)
    {
        if (string.IsNullOrEmpty(name) || name.Length > maxLength * 2)
        {
            return null;
        }

        string normalized = name.Normalize(NormalizationForm.FormC).ToLowerInvariant();
        return normalized.Length <= maxLength && RoomPattern().IsMatch(normalized) ? normalized : null;
    }

    /// <summary>
    /// Returns the nickname as it will be shown (Unicode-normalized, case kept), or null when it is not 1 to
    /// <paramref name="maxLength"/> letters, digits, '-', '_' or '.' starting with a letter or digit.
    /// </summary>
    public static string? NormalizeNick(string? nick, int maxLength)
    {
        if (string.IsNullOrEmpty(nick) || nick.Length > maxLength * 2)
        {
            return null;
        }

        string normalized = nick.Normalize(NormalizationForm.FormC);
        return normalized.Length <= maxLength && NickPattern().IsMatch(normalized) ? normalized : null;
    }

    /// <summary>The key under which a nickname is unique in a room: "Alice" and "alice" are the same person.</summary>
    public static string NickKey(string normalizedNick) => normalizedNick.ToLowerInvariant();

    [GeneratedRegex(@"^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex RoomPattern();

    [GeneratedRegex(@"^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_.-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex NickPattern();
}
