using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Conformance;

/// <summary>
/// The server under test for one category: Tern's echo (every text and binary message sent back unchanged, as the
/// Autobahn TestSuite expects) on 127.0.0.1, with a 16 MiB message limit so that case 9.1.6 sits exactly on it, a long
/// close timeout, and its log captured.
/// </summary>
public class ConformanceServer : IAsyncLifetime
{
    public const long MaxMessageSize = 16 * 1024 * 1024;

    private TestServer? _server;
    private EchoSampleProcess? _sample;

    internal CapturingLoggerFactory Logs { get; } = new();

    internal int Port => _sample?.Port ?? _server!.Port;

    /// <summary>Whether the cases run against samples/Tern.Echo rather than an in-process server.</summary>
    internal bool RunsEchoSample => _sample is not null;

    /// <summary>Whether the server speaks TLS, so that the cases' clients must too.</summary>
    internal virtual bool UseTls => false;

    /// <summary>Connections the server holds open now.</summary>
    internal int OpenConnections => _sample?.OpenConnections ?? _server!.Server.ConnectionCount;

    /// <summary>What the server logged at Error or above since the last call.</summary>
    internal string[] TakeErrors() => _sample?.TakeErrors() ?? Logs.TakeErrors();

    public async Task InitializeAsync()
    {
        // TERN_CONFORMANCE_ECHO_SAMPLE=1 runs the echo cases against samples/Tern.Echo in its own process, as started
        // by a user; the handshake category, which needs hooks the sample does not have, stays in-process.
        if (Environment.GetEnvironmentVariable("TERN_CONFORMANCE_ECHO_SAMPLE") == "1" && SampleArguments() is { } arguments)
        {
            _sample = await EchoSampleProcess.StartAsync(MaxMessageSize, arguments);
            return;
        }

        _server = await TestServer.StartAsync(Configure, options =>
        {
            options.MaxMessageSize = MaxMessageSize;
            options.LoggerFactory = Logs;

            // Far longer than any case waits, so a server that only closes TCP when this timeout expires fails the
            // case instead of passing by a race.
            options.CloseTimeout = TimeSpan.FromSeconds(30);
            ConfigureOptions(options);
        });
    }

    public virtual async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_sample is not null)
        {
            await _sample.DisposeAsync();
        }
    }

    /// <summary>The sample's command line for this server, or null when the cases need the in-process server (hooks).</summary>
    private protected virtual string[]? SampleArguments() => GetType() == typeof(ConformanceServer) ? [] : null;

    private protected virtual void Configure(WebSocketServer server) => TestServer.MapEcho(server);

    private protected virtual void ConfigureOptions(WebSocketServerOptions options)
    {
    }
}

/// <summary>
/// Base of the case classes. After every case it checks what the server did on its side: the connection left the
/// server's registry (nothing leaked, whatever the client sent) and nothing was logged at Error level (no unhandled
/// exception).
/// </summary>
public abstract class ConformanceCases<TServer> : IClassFixture<TServer>, IAsyncLifetime
    where TServer : ConformanceServer
{
    protected ConformanceCases(TServer server)
    {
        Fixture = server;
    }

    protected TServer Fixture { get; }

    private protected int Port => Fixture.Port;

    /// <summary>Connects and completes the handshake.</summary>
    private protected Task<RawClient> OpenAsync(string path = "/", params string[] extraHeaders) => RawClient.OpenAsync(Port, Fixture.UseTls, path, extraHeaders);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await TestServer.WaitUntilAsync(() => Fixture.OpenConnections == 0, seconds: 10,
            because: "the server to release every connection of the case");
        string[] errors = Fixture.TakeErrors();
        Assert.True(errors.Length == 0, "The server logged errors:\n" + string.Join("\n", errors));
    }
}

/// <summary>Keeps what the server logs at Warning and above; silent otherwise.</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<(LogLevel Level, string Text)> _entries = new();

    /// <summary>Returns the Error and Critical entries logged since the last call, and forgets all entries.</summary>
    public string[] TakeErrors()
    {
        var errors = new List<string>();
        while (_entries.TryDequeue(out (LogLevel Level, string Text) entry))
        {
            if (entry.Level >= LogLevel.Error)
            {
                errors.Add(entry.Text);
            }
        }

        return [.. errors];
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner._entries.Enqueue((logLevel, $"{logLevel} {category}: {formatter(state, exception)} {exception}"));
            }
        }
    }
}
