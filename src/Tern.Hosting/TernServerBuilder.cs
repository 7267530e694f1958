using Microsoft.Extensions.DependencyInjection;

namespace Tern.Hosting;

/// <summary>Maps routes on, and configures, the <see cref="WebSocketServer"/> added by <c>AddTernServer</c>.</summary>
public sealed class TernServerBuilder
{
    internal TernServerBuilder(IServiceCollection services)
    {
        Services = services;
    }

    /// <summary>The host's services.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Sets server options in code (for example <see cref="WebSocketServerOptions.HttpHandler"/>); runs after configuration is bound.</summary>
    /// <param name="configure">Changes the options.</param>
    /// <returns>This builder.</returns>
    public TernServerBuilder Configure(Action<WebSocketServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(configure);
        return this;
    }

    /// <summary>
    /// Sets server options in code with access to the application's services (for example an
    /// <see cref="WebSocketServerOptions.OnHandshake"/> that checks tokens with a registered service).
    /// </summary>
    /// <typeparam name="TDependency">A service the configuration needs.</typeparam>
    /// <param name="configure">Changes the options.</param>
    /// <returns>This builder.</returns>
    public TernServerBuilder Configure<TDependency>(Action<WebSocketServerOptions, TDependency> configure)
        where TDependency : class
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.AddOptions<WebSocketServerOptions>().Configure(configure);
        return this;
    }

    /// <summary>
    /// Configures the server once it is created, before it starts, with access to the application's services: the place
    /// to call <see cref="WebSocketServer.Map(string, WebSocketHandler)"/> with handlers that need services.
    /// </summary>
    /// <param name="configure">Maps routes on the server.</param>
    /// <returns>This builder.</returns>
    public TernServerBuilder ConfigureServer(Action<WebSocketServer, IServiceProvider> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure<TernServerSetup>(setup => setup.ConfigureServer.Add(configure));
        return this;
    }

    /// <summary>Routes WebSocket connections to <paramref name="path"/> (exact match) to <paramref name="handler"/>; see <see cref="WebSocketServer.Map(string, Func{WebSocketConnection, CancellationToken, Task})"/>.</summary>
    /// <param name="path">The request path, such as <c>/echo</c>.</param>
    /// <param name="handler">Runs for each connection; the token is canceled when the connection drops or the host stops.</param>
    /// <returns>This builder.</returns>
    public TernServerBuilder Map(string path, Func<WebSocketConnection, CancellationToken, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(handler);
        return ConfigureServer((server, _) => server.Map(path, handler));
    }

    /// <summary>Routes WebSocket connections to <paramref name="path"/> to callbacks; see <see cref="WebSocketServer.Map(string, WebSocketHandler)"/>.</summary>
    /// <param name="path">The request path, such as <c>/chat</c>.</param>
    /// <param name="handler">The callbacks.</param>
    /// <returns>This builder.</returns>
    public TernServerBuilder Map(string path, WebSocketHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(handler);
        return ConfigureServer((server, _) => server.Map(path, handler));
    }

    /// <summary>Routes WebSocket connections to every path not mapped otherwise; see <see cref="WebSocketServer.MapFallback(Func{WebSocketConnection, CancellationToken, Task})"/>.</summary>
    /// <param name="handler">Runs for each connection.</param>
    /// <returns>This builder.</returns>
    public TernServerBuilder MapFallback(Func<WebSocketConnection, CancellationToken, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return ConfigureServer((server, _) => server.MapFallback(handler));
    }
}

/// <summary>What <see cref="TernServerBuilder.ConfigureServer"/> collected, applied when the server is created.</summary>
internal sealed class TernServerSetup
{
    public List<Action<WebSocketServer, IServiceProvider>> ConfigureServer { get; } = new();
}
