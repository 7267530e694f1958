using System.Globalization;
using Tern.Chat.Accounts;

namespace Tern.Chat.Web;

/// <summary>Every error the HTTP API answers, with its status, code and wording (docs/chat-protocol.md).</summary>
internal static class ChatApiErrors
{
    public static (int Status, ApiError Error) BadRequest(string message) => (400, new("bad_request", message));

    public static (int Status, ApiError Error) BadJson() =>
        BadRequest("Send a JSON object (Content-Type: application/json), such as {\"username\":\"alice\",\"password\":\"…\"}.");

    public static (int Status, ApiError Error) MissingField(string field) => BadRequest($"Field '{field}' is required and must be a string.");

    public static (int Status, ApiError Error) BadOrigin() =>
        (403, new("bad_origin", "This request must come from the chat's own page."));

    public static (int Status, ApiError Error) BadHost() =>
        (400, new("bad_host", "This server does not answer to that host name."));

    public static (int Status, ApiError Error) NoSession() =>
        (401, new("no_session", "You are not signed in."));

    public static (int Status, ApiError Error) NotFound() => (404, new("not_found", "There is no such API request."));

    public static (int Status, ApiError Error) MethodNotAllowed(string allowed) =>
        (405, new("method_not_allowed", $"Use {allowed} for this request."));

    public static (int Status, ApiError Error) TooLarge(int limit) =>
        (413, new("too_large", string.Create(CultureInfo.InvariantCulture, $"The request body is larger than {limit / 1024} KiB.")));

    public static (int Status, ApiError Error) ServerError() =>
        (500, new("server_error", "The server could not do that just now; please try again."));

    /// <summary>Whole seconds for Retry-After, rounded up: "0" would invite an immediate retry.</summary>
    public static int RetryAfterSeconds(TimeSpan retryAfter) => Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));

    /// <summary>The error for a refused sign-up or sign-in.</summary>
    public static (int Status, ApiError Error) From(AccountResult result) => result.Outcome switch
    {
        AccountOutcome.BadUsername => (400, new("bad_username", result.Problem!)),
        AccountOutcome.BadPassword => (400, new("bad_password", result.Problem!)),
        AccountOutcome.BadDisplayName => (400, new("bad_display_name", result.Problem!)),
        AccountOutcome.UsernameTaken => (409, new("username_taken", result.Problem!)),
        AccountOutcome.BadCredentials => (401, new("bad_credentials", "Wrong username or password.")),
        AccountOutcome.RateLimited => (429, new("rate_limited", string.Create(CultureInfo.InvariantCulture,
            $"{result.Problem ?? "Too many attempts."} Try again in {RetryAfterSeconds(result.RetryAfter)} s."))),
        _ => throw new ArgumentOutOfRangeException(nameof(result), result.Outcome, "Not an error."),
    };
}
