using Microsoft.Extensions.Logging;
using Tern.Chat.Hub;

namespace Tern.Chat.Tests.Support;

/// <summary>A real Tern.Chat on 127.0.0.1 with its own SQLite file, that can be stopped and started again on the same port.</summary>
public sealed class ChatServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly Action<ChatHubOptions>? _configure;
    private readonly Action<ChatOptions>? _configureApp;

    private ChatServer(string directory, Action<ChatHubOptions>? configure, Action<ChatOptions>? configureApp)
    {
        _directory = directory;
        _configure = configure;
        _configureApp = configureApp;
    }

    public ChatApp App { get; private set; } = null!;

    /// <summary>Everything the chat logged, at every level.</summary>
    public CollectingLoggerProvider Log { get; } = new();

    public int Port { get; private set; }

    public string DatabasePath => Path.Combine(_directory, "chat.db");

    /// <summary>Whether the chat serves https and wss itself (with a test certificate).</summary>
    public bool IsSecure { get; private init; }

    public Uri Url => new($"{(IsSecure ? "https" : "http")}://127.0.0.1:{Port}/");

    public Uri WebSocketUrl => new($"{(IsSecure ? "wss" : "ws")}://127.0.0.1:{Port}/chat");

    /// <param name="configure">Hub options.</param>
    /// <param name="configureApp">App options.</param>
    /// <param name="tls">Serve https and wss, with the test certificate in PEM files (--cert, --key) next to the database.</param>
    public static async Task<ChatServer> StartAsync(Action<ChatHubOptions>? configure = null, Action<ChatOptions>? configureApp = null, bool tls = false)
    {
        string directory = Path.Combine(Path.GetTempPath(), "tern-chat-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        if (tls)
        {
            (string certificate, string key) = Tern.TestSupport.TestCertificates.WritePem(Tern.TestSupport.TestCertificates.Localhost, directory);
            Action<ChatOptions>? inner = configureApp;
            configureApp = options =>
            {
                options.Cert = certificate;
                options.Key = key;
                inner?.Invoke(options);
            };
        }

        var server = new ChatServer(directory, configure, configureApp) { IsSecure = tls };
        await server.StartAppAsync(port: 0);
        return server;
    }

    /// <summary>Stops the chat, as Ctrl+C would.</summary>
    public Task StopAsync() => App.StopAsync();

    /// <summary>Starts the chat again on the same port with the same database (after <see cref="StopAsync"/>).</summary>
    public async Task StartAgainAsync()
    {
        // Right after a stop the port can briefly refuse to bind again on some systems; retry for a moment.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await StartAppAsync(Port);
                return;
            }
            catch (Exception e) when (attempt < 50 && ChatApp.FindSocketError(e) is not null)
            {
                await Task.Delay(100);
            }
        }
    }

    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAgainAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task StartAppAsync(int port)
    {
        var options = new ChatOptions { Host = "127.0.0.1", Port = port, DatabasePath = DatabasePath };
        options.Hub.RoomListDelay = TimeSpan.FromMilliseconds(100);
        // Tests sign up several people from 127.0.0.1 on one server; the hourly per-address cap is tested on its own.
        options.Accounts.SignUpLimit = 100;
        _configure?.Invoke(options.Hub);
        _configureApp?.Invoke(options);
        // Kept for the app's life (not disposed): the app creates loggers as it goes.
        ILoggerFactory loggerFactory = LoggerFactory.Create(logging => logging.AddProvider(Log).SetMinimumLevel(LogLevel.Trace));
        App = await ChatApp.StartAsync(options, loggerFactory);
        Port = App.EndPoints[0].Port;
    }
}
