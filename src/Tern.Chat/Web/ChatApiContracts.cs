using System.Text.Json.Serialization;

namespace Tern.Chat.Web;

/// <summary>The body of <c>POST /api/signup</c>.</summary>
/// <param name="Username">The chosen name.</param>
/// <param name="Password">The chosen password.</param>
/// <param name="DisplayName">How the name is shown; the username when left out.</param>
public sealed record SignUpRequest(string? Username, string? Password, string? DisplayName);

/// <summary>The body of <c>POST /api/login</c>.</summary>
/// <param name="Username">The account's name (any case).</param>
/// <param name="Password">Its password.</param>
public sealed record LoginRequest(string? Username, string? Password);

/// <summary>The (optional) body of <c>POST /api/logout</c>.</summary>
/// <param name="Everywhere">True to revoke every session of the account, not only this one.</param>
public sealed record LogoutRequest(bool Everywhere);

/// <summary>The answer of sign-up, sign-in and <c>GET /api/session</c>: who is signed in.</summary>
/// <param name="Username">The account's name.</param>
/// <param name="DisplayName">How it is shown.</param>
public sealed record AccountResponse(string Username, string DisplayName);

/// <summary>Every error of the HTTP API: a code for programs and a sentence for people.</summary>
/// <param name="Error">The code, e.g. <c>bad_credentials</c>.</param>
/// <param name="Message">The sentence.</param>
public sealed record ApiError(string Error, string Message);

/// <summary>Source-generated JSON for the HTTP API (camelCase, absent rather than null).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    // Numbers as strings, comments, trailing commas: none of it; the page sends plain JSON.
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(SignUpRequest))]
[JsonSerializable(typeof(LoginRequest))]
[JsonSerializable(typeof(LogoutRequest))]
[JsonSerializable(typeof(AccountResponse))]
[JsonSerializable(typeof(ApiError))]
internal sealed partial class ChatApiJsonContext : JsonSerializerContext;
