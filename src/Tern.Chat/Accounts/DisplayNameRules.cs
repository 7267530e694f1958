using System.Diagnostics.CodeAnalysis;
using System.Text;
using Tern.Chat.Text;

namespace Tern.Chat.Accounts;

/// <summary>
/// The rules for display names: 1 to <see cref="MaxLength"/> characters of any script, one line, nothing that could
/// reorder or hide the page around it (<see cref="MessageText.CheckInline"/>). Surrounding white space is trimmed and
/// the text stored NFC.
/// </summary>
public static class DisplayNameRules
{
    /// <summary>Most characters (UTF-16 code units) in a display name.</summary>
    public const int MaxLength = 40;

    /// <summary>The sentence for people that the <c>bad_display_name</c> error carries.</summary>
    public const string Description =
        "A display name is 1 to 40 characters, on one line, without control, formatting or text-direction characters.";

    /// <summary>Checks a display name and returns it trimmed and NFC; false with the problem otherwise.</summary>
    public static bool TryNormalize(string input, [NotNullWhen(true)] out string? displayName, out MessageTextProblem problem)
    {
        ArgumentNullException.ThrowIfNull(input);
        displayName = null;
        string trimmed = input.Trim();
        string normalized;
        try
        {
            normalized = trimmed.Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException)
        {
            problem = MessageTextProblem.ControlCharacters; // A lone surrogate is not text.
            return false;
        }

        MessageTextProblem? found = MessageText.CheckInline(normalized, MaxLength);
        if (found is not null)
        {
            problem = found.Value;
            return false;
        }

        problem = default;
        displayName = normalized;
        return true;
    }
}
