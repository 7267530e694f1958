using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Tern.Chat.Accounts;
using Tern.Http;

namespace Tern.Chat.Web;

/// <summary>
/// The HTTP API under <see cref="PathPrefix"/> (docs/chat-protocol.md): <c>POST /api/signup</c>, <c>POST /api/login</c>,
/// <c>POST /api/logout</c> and <c>GET /api/session</c>. JSON in and out; errors are <see cref="ApiError"/>. Every POST
/// must come from an allowed origin (403 otherwise); the host is checked by <see cref="ChatWeb"/> before this runs.
/// </summary>
public sealed class ChatHttpApi
{
    /// <summary>The path prefix of every API request.</summary>
    public const string PathPrefix = "/api/";

    /// <summary>Largest request body accepted (16 KiB); a larger one gets 413.</summary>
    public const int MaxBodyBytes = 16 * 1024;

    private const string JsonContentType = "application/json; charset=utf-8";

    private readonly AccountService _accounts;
    private readonly SiteGuard _guard;
    private readonly ClientAddresses _clients;
    private readonly ChatWebOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the API over the account service.</summary>
    /// <param name="accounts">Sign-up, sign-in and sessions.</param>
    /// <param name="guard">The origin check of every POST.</param>
    /// <param name="clients">Whose request it is, for the per-address throttles.</param>
    /// <param name="options">The cookie's settings.</param>
    /// <param name="logger">Where failures are logged.</param>
    public ChatHttpApi(AccountService accounts, SiteGuard guard, ClientAddresses clients, ChatWebOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(guard);
        ArgumentNullException.ThrowIfNull(clients);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _accounts = accounts;
        _guard = guard;
        _clients = clients;
        _options = options;
        _logger = logger;
    }

    /// <summary>True when the request path is under <see cref="PathPrefix"/> (or is <c>/api</c> itself).</summary>
    public static bool IsApiPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return path.StartsWith(PathPrefix, StringComparison.Ordinal) || path == "/api";
    }

    /// <summary>Works out the answer to an API request (without the page's security headers; <see cref="ChatWeb"/> adds them).</summary>
    public async ValueTask<HttpResponse> GetResponseAsync(HttpRequestContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        string method = context.Request.Method;
        string route = context.Request.Path;
        string allowed = route == "/api/session" ? "GET" : "POST";
        if (route is not ("/api/signup" or "/api/login" or "/api/logout" or "/api/session"))
        {
            return Error(ChatApiErrors.NotFound());
        }

        if (method != allowed)
        {
            HttpResponse notAllowed = Error(ChatApiErrors.MethodNotAllowed(allowed));
            notAllowed.Headers.Add(new("Allow", allowed));
            return notAllowed;
        }

        if (method == "POST")
        {
            // Cross-site request forgery: another site's page can make the browser POST here (with the cookie, were it
            // not SameSite); the Origin header, which browsers always send on POST, tells it apart.
            if (!_guard.IsAllowedOrigin(context.Request.Headers["Origin"], context.Request.Headers["Host"]))
            {
                return Error(ChatApiErrors.BadOrigin());
            }

            if (context.Body.Length > MaxBodyBytes)
            {
                return Error(ChatApiErrors.TooLarge(MaxBodyBytes));
            }
        }

        try
        {
            return route switch
            {
                "/api/signup" => await SignUpAsync(context, cancellationToken).ConfigureAwait(false),
                "/api/login" => await LogInAsync(context, cancellationToken).ConfigureAwait(false),
                "/api/logout" => await LogOutAsync(context, cancellationToken).ConfigureAwait(false),
                _ => await GetSessionAsync(context, cancellationToken).ConfigureAwait(false),
            };
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError(e, "{Method} {Path} from {Client} failed", method, route, context.RemoteEndPoint);
            return Error(ChatApiErrors.ServerError());
        }
    }

    private async Task<HttpResponse> SignUpAsync(HttpRequestContext context, CancellationToken cancellationToken)
    {
        if (!TryReadJson(context, ChatApiJsonContext.Default.SignUpRequest, out SignUpRequest? request, out HttpResponse? refusal))
        {
            return refusal;
        }

        if (request.Username is null || request.Password is null)
        {
            return Error(ChatApiErrors.MissingField(request.Username is null ? "username" : "password"));
        }

        AccountResult result = await _accounts.SignUpAsync(request.Username, request.Password, request.DisplayName, ClientOf(context), cancellationToken).ConfigureAwait(false);
        return SignedIn(201, result);
    }

    private async Task<HttpResponse> LogInAsync(HttpRequestContext context, CancellationToken cancellationToken)
    {
        if (!TryReadJson(context, ChatApiJsonContext.Default.LoginRequest, out LoginRequest? request, out HttpResponse? refusal))
        {
            return refusal;
        }

        if (request.Username is null || request.Password is null)
        {
            return Error(ChatApiErrors.MissingField(request.Username is null ? "username" : "password"));
        }

        AccountResult result = await _accounts.SignInAsync(request.Username, request.Password, ClientOf(context), cancellationToken).ConfigureAwait(false);
        return SignedIn(200, result);
    }

    private async Task<HttpResponse> LogOutAsync(HttpRequestContext context, CancellationToken cancellationToken)
    {
        bool everywhere = false;
        if (!context.Body.IsEmpty)
        {
            if (!TryReadJson(context, ChatApiJsonContext.Default.LogoutRequest, out LogoutRequest? request, out HttpResponse? refusal))
            {
                return refusal;
            }

            everywhere = request.Everywhere;
        }

        await _accounts.SignOutAsync(SessionCookie.Read(context.Request.Cookies), everywhere, cancellationToken).ConfigureAwait(false);
        var response = new HttpResponse(204);
        response.Headers.Add(new("Cache-Control", "no-store"));
        response.Headers.Add(new("Set-Cookie", SessionCookie.Clear(_options.SecureCookies)));
        return response;
    }

    private async Task<HttpResponse> GetSessionAsync(HttpRequestContext context, CancellationToken cancellationToken)
    {
        string? token = SessionCookie.Read(context.Request.Cookies);
        SignedInAccount? account = await _accounts.ValidateSessionAsync(token, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            HttpResponse noSession = Error(ChatApiErrors.NoSession());
            if (token is not null)
            {
                noSession.Headers.Add(new("Set-Cookie", SessionCookie.Clear(_options.SecureCookies))); // a dead cookie helps no one
            }

            return noSession;
        }

        // The session slides on the server; the cookie's own lifetime slides with it here, where the page asks on load.
        HttpResponse response = Json(200, new AccountResponse(account.Username, account.DisplayName), ChatApiJsonContext.Default.AccountResponse);
        response.Headers.Add(new("Set-Cookie", SessionCookie.Issue(token!, _options.Accounts.SessionLifetime, _options.SecureCookies)));
        return response;
    }

    private HttpResponse SignedIn(int status, AccountResult result)
    {
        if (result.Outcome != AccountOutcome.Success)
        {
            HttpResponse refused = Error(ChatApiErrors.From(result));
            if (result.Outcome == AccountOutcome.RateLimited)
            {
                refused.Headers.Add(new("Retry-After", ChatApiErrors.RetryAfterSeconds(result.RetryAfter).ToString(CultureInfo.InvariantCulture)));
            }

            return refused;
        }

        NewSession session = result.Session!;
        HttpResponse response = Json(status, new AccountResponse(session.Account.Username, session.Account.DisplayName), ChatApiJsonContext.Default.AccountResponse);
        response.Headers.Add(new("Set-Cookie", SessionCookie.Issue(session.Token, _options.Accounts.SessionLifetime, _options.SecureCookies)));
        return response;
    }

    /// <summary>Reads the body as a JSON object of <typeparamref name="T"/>; otherwise the 400 to answer.</summary>
    private static bool TryReadJson<T>(HttpRequestContext context, JsonTypeInfo<T> type,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out T? value,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out HttpResponse? refusal)
        where T : class
    {
        value = null;
        refusal = null;
        string? contentType = context.Request.Headers["Content-Type"];
        bool isJson = contentType is not null
            && contentType.Split(';')[0].Trim().Equals("application/json", StringComparison.OrdinalIgnoreCase);
        if (isJson && !context.Body.IsEmpty)
        {
            try
            {
                value = JsonSerializer.Deserialize(context.Body.Span, type);
            }
            catch (JsonException)
            {
                // Malformed JSON, a field of the wrong type, or invalid UTF-8: all the same to the sender.
            }
        }

        if (value is null)
        {
            refusal = Error(ChatApiErrors.BadJson());
            return false;
        }

        return true;
    }

    private IPAddress ClientOf(HttpRequestContext context) => _clients.Resolve(context.RemoteEndPoint.Address, context.Request.Headers);

    private static HttpResponse Error((int Status, ApiError Error) error) => Json(error.Status, error.Error, ChatApiJsonContext.Default.ApiError);

    private static HttpResponse Json<T>(int status, T value, JsonTypeInfo<T> type)
    {
        var response = new HttpResponse(status, JsonSerializer.SerializeToUtf8Bytes(value, type), JsonContentType);
        // Answers about sessions are personal: no cache may keep them.
        response.Headers.Add(new("Cache-Control", "no-store"));
        return response;
    }
}
