using System.Text;
using System.Text.RegularExpressions;

namespace Tern.Chat.Hub;

/// <summary>What makes a valid room name, and when two of them are the same.</summary>
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

    [GeneratedRegex(@"^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex RoomPattern();
}
