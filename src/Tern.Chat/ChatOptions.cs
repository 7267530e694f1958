using System.Globalization;
using Tern.Chat.Hub;

namespace Tern.Chat;

/// <summary>How to run the chat: where to listen and where to keep history. Read from the command line and the environment.</summary>
public sealed class ChatOptions
{
    /// <summary>The value of <see cref="DatabasePath"/> that keeps history in memory only.</summary>
    public const string InMemoryDatabase = ":memory:";

    /// <summary>The text <c>--help</c> prints.</summary>
    public const string Usage = """
        Tern.Chat: a browser chat on one port, with history in SQLite.

        Usage: Tern.Chat [--port <port>] [--host <host>] [--db <path>]

          --port <port>   TCP port to listen on; 0 picks a free one.   [env TERN_CHAT_PORT, default 8080]
          --host <host>   Address or host name to listen on: localhost, 127.0.0.1, ::1,
                          0.0.0.0 or * (every IPv4 address), :: (every address).
                                                                      [env TERN_CHAT_HOST, default localhost]
          --db <path>     SQLite file for the history (created if missing),
                          or :memory: to keep it in memory only.      [env TERN_CHAT_DB, default tern-chat.db]
          -h, --help      Show this help.

        Command-line options win over environment variables.
        """;

    /// <summary>The port; 0 picks a free one. Default 8080.</summary>
    public int Port { get; set; } = 8080;

    /// <summary>The host name or address to listen on. Default localhost.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>The SQLite file for history, or <see cref="InMemoryDatabase"/>. Default tern-chat.db.</summary>
    public string DatabasePath { get; set; } = "tern-chat.db";

    /// <summary>True when --help was asked for.</summary>
    public bool ShowHelp { get; set; }

    /// <summary>The hub's limits.</summary>
    public ChatHubOptions Hub { get; } = new();

    /// <summary>Reads the options: defaults, then environment variables, then the command line.</summary>
    /// <exception cref="ChatOptionsException">An option is unknown, lacks its value or has a bad one.</exception>
    public static ChatOptions Parse(IReadOnlyList<string> args, Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        var options = new ChatOptions();
        if (getEnvironmentVariable("TERN_CHAT_PORT") is { Length: > 0 } port)
        {
            options.Port = ParsePort(port, "TERN_CHAT_PORT");
        }

        if (getEnvironmentVariable("TERN_CHAT_HOST") is { Length: > 0 } host)
        {
            options.Host = host;
        }

        if (getEnvironmentVariable("TERN_CHAT_DB") is { Length: > 0 } db)
        {
            options.DatabasePath = db;
        }

        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string name = arg;
            string? value = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
            {
                name = arg[..equals];
                value = arg[(equals + 1)..];
            }

            switch (name)
            {
                case "-h" or "--help" or "-?" or "/?":
                    options.ShowHelp = true;
                    break;
                case "--port":
                    options.Port = ParsePort(value ?? NextValue(args, ref i, name), name);
                    break;
                case "--host":
                    options.Host = NonEmpty(value ?? NextValue(args, ref i, name), name);
                    break;
                case "--db":
                    options.DatabasePath = NonEmpty(value ?? NextValue(args, ref i, name), name);
                    break;
                default:
                    throw new ChatOptionsException($"Unknown option '{arg}'.");
            }
        }

        return options;
    }

    private static string NextValue(IReadOnlyList<string> args, ref int i, string name)
    {
        if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ChatOptionsException($"Option '{name}' needs a value.");
        }

        return args[++i];
    }

    private static string NonEmpty(string value, string name) =>
        value.Length > 0 ? value : throw new ChatOptionsException($"Option '{name}' needs a value.");

    private static int ParsePort(string value, string source) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port <= 65535
            ? port
            : throw new ChatOptionsException($"'{value}' is not a port number (0 to 65535) for {source}.");
}

/// <summary>A command-line or environment setting is wrong; the message says which and why.</summary>
public sealed class ChatOptionsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChatOptionsException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ChatOptionsException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ChatOptionsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
