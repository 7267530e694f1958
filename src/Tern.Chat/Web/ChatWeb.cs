using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Chat.Accounts;
using Tern.Chat.Storage;
using Tern.Http;
using Tern.Protocol;

namespace Tern.Chat.Web;

/// <summary>
/// The chat's web side in one place, for the server to wire:
/// <code>
/// await using var web = new ChatWeb(store, webOptions, StaticFileResponder.FromEmbeddedResources(typeof(ChatApp).Assembly, "wwwroot/"));
/// serverOptions.HttpHandler = web.HandleHttpAsync;          // the API and the page
/// serverOptions.OnHandshake = web.AuthenticateHandshakeAsync; // host, origin and session of every WebSocket
/// serverOptions.MaxRequestBodySize = ChatHttpApi.MaxBodyBytes;
/// web.Accounts.SessionsRevoked += (_, e) => /* close that account's (or session's) sockets with 4001 */;
/// </code>
/// Every response carries the security headers (<see cref="PageHeaders"/>); requests for a host not in
/// <see cref="ChatWebOptions.AllowedHosts"/> get 400 before anything else.
/// </summary>
public sealed class ChatWeb : IAsyncDisposable
{
    private readonly ChatWebOptions _options;
    private readonly StaticFileResponder _page;
    private readonly ILogger _logger;

    /// <summary>Creates the web side over an account store and the page's files.</summary>
    /// <param name="store">Accounts and sessions; the caller keeps ownership.</param>
    /// <param name="options">Hosts, origins, cookie and account settings.</param>
    /// <param name="page">Serves the page for every path outside <see cref="ChatHttpApi.PathPrefix"/>.</param>
    /// <param name="time">The clock; default the system's.</param>
    /// <param name="loggerFactory">Logging; default none.</param>
    /// <exception cref="ArgumentException">An allowed host, origin or trusted proxy is malformed, or an account setting is out of range.</exception>
    public ChatWeb(IAccountStore store, ChatWebOptions options, StaticFileResponder page, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(page);
        loggerFactory ??= NullLoggerFactory.Instance;
        _options = options;
        _page = page;
        _logger = loggerFactory.CreateLogger<ChatWeb>();
        Guard = new SiteGuard(options);
        ClientAddresses = new ClientAddresses(options.TrustedProxies, loggerFactory.CreateLogger<ClientAddresses>());
        Accounts = new AccountService(store, options.Accounts, time, loggerFactory.CreateLogger<AccountService>());
        Api = new ChatHttpApi(Accounts, Guard, ClientAddresses, options, _logger);
    }

    /// <summary>Sign-up, sign-in, sessions; subscribe to <see cref="AccountService.SessionsRevoked"/> to close sockets.</summary>
    public AccountService Accounts { get; }

    /// <summary>The host and origin checks.</summary>
    public SiteGuard Guard { get; }

    /// <summary>Whose request it is: the peer, or the client a trusted proxy names.</summary>
    public ClientAddresses ClientAddresses { get; }

    /// <summary>The HTTP API.</summary>
    public ChatHttpApi Api { get; }

    /// <summary>Answers a plain HTTP request: the API under <c>/api/</c>, the page elsewhere. Fits <see cref="Tern.WebSocketServerOptions.HttpHandler"/>.</summary>
    public async ValueTask HandleHttpAsync(HttpRequestContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        HttpRequestHead request = context.Request;
        bool isApi = ChatHttpApi.IsApiPath(request.Path);
        HttpResponse response;
        if (!Guard.IsAllowedHost(request.Headers["Host"]))
        {
            response = isApi
                ? new HttpResponse(400, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(ChatApiErrors.BadHost().Error, ChatApiJsonContext.Default.ApiError), "application/json; charset=utf-8")
                : HttpResponse.Text(400, "Bad Request: unknown host");
        }
        else if (isApi)
        {
            response = await Api.GetResponseAsync(context, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            response = await _page.GetResponseAsync(request.Method, request.Path, request.Headers["If-None-Match"], request.Headers["If-Modified-Since"], cancellationToken).ConfigureAwait(false);
        }

        PageHeaders.Add(response, _options.ContentSecurityPolicy);
        await context.RespondAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Checks a WebSocket handshake, in this order: the <c>Host</c> (400), the <c>Origin</c> (403: another site's page
    /// must not open a socket with the visitor's cookie), the session cookie (401 when missing, invalid or expired).
    /// On success the <see cref="SignedInAccount"/> is put into the context's items under
    /// <see cref="SignedInAccount.ItemsKey"/>, and the client's address (<see cref="Web.ClientAddresses"/>, from the
    /// upgrade request's headers) under <see cref="ClientAddresses.ItemsKey"/>. Fits
    /// <see cref="Tern.WebSocketServerOptions.OnHandshake"/>.
    /// </summary>
    public async ValueTask AuthenticateHandshakeAsync(WebSocketHandshakeContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        string? host = context.Request.Headers["Host"];
        if (!Guard.IsAllowedHost(host))
        {
            context.Reject(400, "Unknown host.");
            return;
        }

        if (!Guard.IsAllowedOrigin(context.Origin, host))
        {
            context.Reject(403, "This chat only accepts connections from its own page.");
            return;
        }

        SignedInAccount? account = await Accounts.ValidateSessionAsync(SessionCookie.Read(context.Cookies), cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            context.Reject(401, "Sign in first.");
            return;
        }

        context.Items[SignedInAccount.ItemsKey] = account;
        // The connection no longer has the request's headers: the hub's per-address limits need the address now.
        context.Items[ClientAddresses.ItemsKey] = ClientAddresses.Resolve(context.RemoteEndPoint.Address, context.Request.Headers);
    }

    /// <summary>Stops the account service's background work. The store is the caller's.</summary>
    public ValueTask DisposeAsync() => Accounts.DisposeAsync();
}
