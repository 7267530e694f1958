using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Tern.Hosting;

/// <summary>Registers a Tern <see cref="WebSocketServer"/> that runs as a hosted service of a Generic Host.</summary>
public static class TernServiceCollectionExtensions
{
    /// <summary>
    /// Adds a <see cref="WebSocketServer"/> to the services, started with the host and stopped with it (1001 Going Away to
    /// every client, bounded by <see cref="WebSocketServerOptions.ShutdownTimeout"/>), logging through the host's
    /// <see cref="ILoggerFactory"/>. The server is a singleton: inject <see cref="WebSocketServer"/> to broadcast.
    /// Map routes with <see cref="TernServerBuilder.Map(string, Func{WebSocketConnection, CancellationToken, Task})"/>
    /// on the returned builder.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configureOptions">Sets options in code; runs after any configuration section bound by other overloads.</param>
    /// <returns>A builder to map routes and configure the server further.</returns>
    public static TernServerBuilder AddTernServer(this IServiceCollection services, Action<WebSocketServerOptions>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = new TernServerBuilder(services);
        if (services.Any(d => d.ServiceType == typeof(TernServerMarker)))
        {
            // A second call adds to the same server (one server per host), as AddSignalR or AddHealthChecks do.
            if (configureOptions is not null)
            {
                builder.Configure(configureOptions);
            }

            return builder;
        }

        services.AddSingleton<TernServerMarker>();
        services.AddOptions<WebSocketServerOptions>()
            .Configure<ILoggerFactory>(static (options, loggerFactory) =>
            {
                // The host's logging, unless the application chose a factory of its own.
                if (options.LoggerFactory is NullLoggerFactory)
                {
                    options.LoggerFactory = loggerFactory;
                }
            })
            .Configure<IServiceProvider>(static (options, provider) => options.MeterFactory ??= provider.GetService<IMeterFactory>());
        services.TryAddSingleton(static provider =>
        {
            var server = new WebSocketServer(provider.GetRequiredService<IOptions<WebSocketServerOptions>>().Value);
            foreach (Action<WebSocketServer, IServiceProvider> configure in provider.GetRequiredService<IOptions<TernServerSetup>>().Value.ConfigureServer)
            {
                configure(server, provider);
            }

            return server;
        });
        services.AddHostedService<TernServerHostedService>();
        if (configureOptions is not null)
        {
            builder.Configure(configureOptions);
        }

        return builder;
    }

    /// <summary>
    /// Adds a <see cref="WebSocketServer"/> configured from <paramref name="configuration"/> (typically
    /// <c>builder.Configuration.GetSection("Tern")</c>), as <see cref="AddTernServer(IServiceCollection, Action{WebSocketServerOptions}?)"/> does.
    /// </summary>
    /// <remarks>
    /// Every settable property of <see cref="WebSocketServerOptions"/> binds by name (<c>MaxMessageSize</c>, timeouts as
    /// <c>"00:00:05"</c>, ...), as do the lists <c>AllowedOrigins</c> and <c>Subprotocols</c>. <c>EndPoints</c> is a list
    /// of strings such as <c>"127.0.0.1:9000"</c>, <c>"[::1]:9000"</c>, <c>"localhost:9000"</c> or <c>"*:9000"</c>
    /// (every address, IPv4 and IPv6). A key that names no option, or a value that does not parse, fails the host's start
    /// with a message naming the key.
    /// </remarks>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The configuration section holding the server's options.</param>
    /// <param name="configureOptions">Sets options in code; runs after the section is bound, so it wins.</param>
    /// <returns>A builder to map routes and configure the server further.</returns>
    public static TernServerBuilder AddTernServer(this IServiceCollection services, IConfiguration configuration, Action<WebSocketServerOptions>? configureOptions = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        TernServerBuilder builder = services.AddTernServer();
        builder.Configure(options => TernServerConfiguration.Bind(configuration, options));
        if (configureOptions is not null)
        {
            builder.Configure(configureOptions);
        }

        return builder;
    }

    /// <summary>Marks the services as holding a Tern server, so a second <c>AddTernServer</c> adds to it.</summary>
    private sealed class TernServerMarker;
}
