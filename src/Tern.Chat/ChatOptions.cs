using System.Globalization;
using Microsoft.Extensions.Configuration;
using Tern.Chat.Accounts;
using Tern.Chat.Hub;

namespace Tern.Chat;

/// <summary>
/// How to run the chat, read the .NET way: an optional appsettings.json next to the program, then environment variables
/// prefixed <c>TERN_CHAT_</c>, then the command line (<c>--port 8081</c>), each overriding the one before. The hub's
/// limits are the <c>Hub</c> section (<c>TERN_CHAT_HUB__RATELIMITCOUNT=40</c>, or <c>"Hub": { … }</c> in the file).
/// </summary>
public sealed class ChatOptions
{
    /// <summary>The value of <see cref="DatabasePath"/> that keeps everything in memory only.</summary>
    public const string InMemoryDatabase = ":memory:";

    /// <summary>The text <c>--help</c> prints.</summary>
    public const string Usage = """
        Tern.Chat: a browser messenger on one port, with accounts and history in SQLite.

        Usage: Tern.Chat [--port <port>] [--host <host>] [--db <path>] [more options below]

          --port <port>              TCP port to listen on; 0 picks a free one.
                                                            [env TERN_CHAT_PORT, default 8080]
          --host <host>              Address or host name to listen on: localhost, 127.0.0.1, ::1,
                                     0.0.0.0 or * (every IPv4 address), :: (every address).
                                                            [env TERN_CHAT_HOST, default localhost]
          --db <path>                SQLite file for accounts and history (created if missing),
                                     or :memory: to keep everything in memory only.
                                                            [env TERN_CHAT_DB, default tern-chat.db]
          --postgres <connection string>
                                     Keep accounts and history in PostgreSQL instead of SQLite (an
                                     Npgsql connection string, "Host=db;Username=chat;Password=…;
                                     Database=chat"); the schema is created at start-up.
                                                            [env TERN_CHAT_POSTGRES]
          --allowed-hosts <list>     Host names the chat answers to, comma-separated, or * for any
                                     (defence against DNS rebinding). Default: the --host name, plus
                                     localhost, 127.0.0.1 and [::1] when listening on loopback.
                                                            [env TERN_CHAT_ALLOWEDHOSTS]
          --allowed-origins <list>   Other origins (https://chat.example.com) allowed to sign in and
                                     open the chat socket besides the page's own, comma-separated.
                                                            [env TERN_CHAT_ALLOWEDORIGINS]
          --trusted-proxies <list>   Reverse proxies (addresses and networks, comma-separated:
                                     "127.0.0.1,10.0.0.0/8,fd00::/8") whose X-Forwarded-For names the
                                     client, so per-address limits count each client, not the proxy.
                                     Other peers' X-Forwarded-For is ignored. Default none.
                                                            [env TERN_CHAT_TRUSTEDPROXIES]
          --secure-cookies <bool>    Mark the session cookie Secure: set true when a TLS proxy serves
                                     the chat as https.     [env TERN_CHAT_SECURECOOKIES, default false]
          --cert <file> --key <file> Serve https and wss on the port with this PEM certificate (chain)
                                     and private key; cookies are then Secure.
                                                            [env TERN_CHAT_CERT, TERN_CHAT_KEY]
          --pfx <file> [--pfx-password <password>]
                                     The same with a PFX (PKCS#12) file.
                                                            [env TERN_CHAT_PFX, TERN_CHAT_PFXPASSWORD]
          --session-days <days>      Sessions end after this many days without use.
                                                            [env TERN_CHAT_SESSIONDAYS, default 30]
          --max-connections-per-address <n>
                                     Most sockets one client address may hold open; 0 for no limit
                                     (set it higher, or 0, behind a proxy: counted as sockets are
                                     accepted, before any header is read, every client then has the
                                     proxy's address).      [env TERN_CHAT_MAXCONNECTIONSPERADDRESS, default 64]
          --deflate <bool>           Compress chat traffic with permessage-deflate when the browser
                                     offers it (every browser does).
                                                            [env TERN_CHAT_DEFLATE, default true]
          -h, --help                 Show this help.

        The same keys (Port, Host, Db, Postgres, AllowedHosts, AllowedOrigins, TrustedProxies, SecureCookies, Cert, Key, Pfx, PfxPassword,
        SessionDays, MaxConnectionsPerAddress, Deflate, a Hub section with the chat's limits, an Accounts section with the sign-in
        and sign-up throttles, see docs/chat-protocol.md, and a Cluster section with the timings between nodes on PostgreSQL,
        see docs/scale-out.md) may be set in an appsettings.json next to the program.
        Command-line options win over environment variables, which win over the file.
        """;

    // The command line's spelling of each option; the values are configuration keys.
    private static readonly Dictionary<string, string> s_switches = new(StringComparer.Ordinal)
    {
        ["--port"] = nameof(Port),
        ["--host"] = nameof(Host),
        ["--db"] = "Db",
        ["--postgres"] = nameof(Postgres),
        ["--allowed-hosts"] = nameof(AllowedHosts),
        ["--allowed-origins"] = nameof(AllowedOrigins),
        ["--trusted-proxies"] = nameof(TrustedProxies),
        ["--secure-cookies"] = nameof(SecureCookies),
        ["--cert"] = nameof(Cert),
        ["--key"] = nameof(Key),
        ["--pfx"] = nameof(Pfx),
        ["--pfx-password"] = nameof(PfxPassword),
        ["--session-days"] = nameof(SessionDays),
        ["--max-connections-per-address"] = nameof(MaxConnectionsPerAddress),
        ["--deflate"] = nameof(Deflate),
    };

    /// <summary>The port; 0 picks a free one. Default 8080.</summary>
    public int Port { get; set; } = 8080;

    /// <summary>The host name or address to listen on. Default localhost.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>The SQLite file, or <see cref="InMemoryDatabase"/>. Default tern-chat.db. Configuration key <c>Db</c>.</summary>
    [ConfigurationKeyName("Db")]
    public string DatabasePath { get; set; } = "tern-chat.db";

    /// <summary>
    /// An Npgsql connection string: when set, accounts and history live in that PostgreSQL database (which several
    /// chat processes may share) and <see cref="DatabasePath"/> is not used. Default null (SQLite).
    /// </summary>
    public string? Postgres { get; set; }

    /// <summary>Host names the chat answers to, comma-separated; "*" for any; empty for the default (see <see cref="Usage"/>).</summary>
    public string AllowedHosts { get; set; } = "";

    /// <summary>Origins allowed besides the page's own, comma-separated.</summary>
    public string AllowedOrigins { get; set; } = "";

    /// <summary>
    /// Reverse proxies whose <c>X-Forwarded-For</c> names the client, comma-separated addresses and CIDR networks
    /// (<c>127.0.0.1,10.0.0.0/8</c>); empty (the default) ignores the header from everyone.
    /// </summary>
    public string TrustedProxies { get; set; } = "";

    /// <summary>Whether the session cookie is marked Secure (the chat is served as https by a TLS proxy).</summary>
    public bool SecureCookies { get; set; }

    /// <summary>A PEM certificate (chain): with <see cref="Key"/>, the chat serves https and wss itself.</summary>
    public string? Cert { get; set; }

    /// <summary>The PEM private key of <see cref="Cert"/>.</summary>
    public string? Key { get; set; }

    /// <summary>A PFX (PKCS#12) file with the certificate and key, instead of <see cref="Cert"/> and <see cref="Key"/>.</summary>
    public string? Pfx { get; set; }

    /// <summary>The password of <see cref="Pfx"/>.</summary>
    public string? PfxPassword { get; set; }

    /// <summary>Days without use after which a session ends. Default 30.</summary>
    public int SessionDays { get; set; } = 30;

    /// <summary>Most sockets one client address may hold open; 0 for no limit. Default 64.</summary>
    public int MaxConnectionsPerAddress { get; set; } = 64;

    /// <summary>
    /// Whether the chat socket accepts permessage-deflate (Tern's defaults: no context takeover, so an idle connection
    /// holds no zlib state; messages under 1 KiB go out uncompressed). Default true.
    /// </summary>
    public bool Deflate { get; set; } = true;

    /// <summary>True when --help was asked for.</summary>
    public bool ShowHelp { get; set; }

    /// <summary>The hub's limits (configuration section <c>Hub</c>).</summary>
    public ChatHubOptions Hub { get; } = new();

    /// <summary>
    /// With <see cref="Postgres"/>: heartbeats, node timeout and event retention between nodes (configuration section
    /// <c>Cluster</c>, e.g. <c>TERN_CHAT_CLUSTER__NODETIMEOUT=00:00:10</c>).
    /// </summary>
    public Cluster.PostgresFanoutOptions Cluster { get; } = new();

    /// <summary>
    /// Sign-in and sign-up throttles and password hashing (configuration section <c>Accounts</c>); the session lifetime
    /// comes from <see cref="SessionDays"/>.
    /// </summary>
    public AccountOptions Accounts { get; } = new();

    /// <summary>
    /// Reads the options: defaults, then appsettings.json next to the program, then environment variables, then the
    /// command line.
    /// </summary>
    /// <param name="args">The command line.</param>
    /// <param name="environment">The environment; null reads the process's own.</param>
    /// <exception cref="ChatOptionsException">An option is unknown, lacks its value or has a bad one.</exception>
    public static ChatOptions Load(IReadOnlyList<string> args, IEnumerable<KeyValuePair<string, string?>>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new ChatOptions();
        if (args.Any(a => a is "-h" or "--help" or "-?" or "/?"))
        {
            options.ShowHelp = true;
            return options;
        }

        string[] commandLine = CheckSwitches(args);
        var builder = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true);
        if (environment is null)
        {
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        }
        else
        {
            // The same mapping the environment provider applies: prefix removed, "__" for ':'.
            builder.AddInMemoryCollection(environment
                .Where(pair => pair.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                .Select(pair => KeyValuePair.Create(pair.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), pair.Value)));
        }

        IConfiguration configuration = builder.AddCommandLine(commandLine, s_switches).Build();
        try
        {
            configuration.Bind(options);
        }
        catch (InvalidOperationException e)
        {
            // "Failed to convert configuration value 'http' at 'Port' to type 'System.Int32'."
            throw new ChatOptionsException($"{Describe(configuration, e)} Run with --help to see the options.", e);
        }

        if (options.Port is < 0 or > 65535)
        {
            throw new ChatOptionsException($"'{options.Port.ToString(CultureInfo.InvariantCulture)}' is not a port number (0 to 65535) for --port (or TERN_CHAT_PORT).");
        }

        if (string.IsNullOrWhiteSpace(options.Host) || string.IsNullOrWhiteSpace(options.DatabasePath))
        {
            throw new ChatOptionsException(string.IsNullOrWhiteSpace(options.Host) ? "Option '--host' needs a value." : "Option '--db' needs a value.");
        }

        if (options.MaxConnectionsPerAddress < 0)
        {
            throw new ChatOptionsException("--max-connections-per-address must be 0 (no limit) or more.");
        }

        foreach (string proxy in options.TrustedProxyList)
        {
            if (!Web.ClientAddresses.TryParseTrustedProxy(proxy, out _))
            {
                throw new ChatOptionsException($"{Web.ClientAddresses.DescribeBadEntry(proxy)} (--trusted-proxies, or TERN_CHAT_TRUSTEDPROXIES)");
            }
        }

        if (options.SessionDays < 1)
        {
            throw new ChatOptionsException("Sessions must last at least a day (--session-days 1 or more).");
        }

        return options;
    }

    /// <summary>The certificate named by <see cref="Cert"/>/<see cref="Key"/> or <see cref="Pfx"/>, loaded; null without one (plain http and ws).</summary>
    /// <exception cref="ChatOptionsException">The options are incomplete, or the files cannot be read or used.</exception>
    public WebSocketTlsOptions? LoadTls()
    {
        try
        {
            return WebSocketTlsOptions.FromFiles(Cert, Key, Pfx, PfxPassword);
        }
        catch (ArgumentException e) when (e is not ArgumentNullException)
        {
            throw new ChatOptionsException($"{e.Message} Give --cert and --key, or --pfx (with --pfx-password if it has one).", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new ChatOptionsException($"Cannot load the certificate from {Pfx ?? Cert}: {e.Message}", e);
        }
    }

    /// <summary><see cref="TrustedProxies"/> as a list.</summary>
    public IReadOnlyList<string> TrustedProxyList => SplitList(TrustedProxies);

    /// <summary><see cref="AllowedOrigins"/> as a list.</summary>
    public IReadOnlyList<string> AllowedOriginList => SplitList(AllowedOrigins);

    /// <summary>
    /// <see cref="AllowedHosts"/> as a list, or the default when empty: the listen host, plus the loopback names when
    /// listening on loopback. An empty list means any host ("*", or listening on every address without a list).
    /// </summary>
    public IReadOnlyList<string> GetAllowedHostList()
    {
        IReadOnlyList<string> configured = SplitList(AllowedHosts);
        if (configured.Contains("*"))
        {
            return [];
        }

        if (configured.Count > 0)
        {
            return configured;
        }

        return Host switch
        {
            "localhost" or "127.0.0.1" or "::1" or "[::1]" => ["localhost", "127.0.0.1", "[::1]"],
            // Listening everywhere: the names people use to reach the machine are not known here.
            "*" or "0.0.0.0" or "::" or "[::]" => [],
            _ => [Host],
        };
    }

    private const string EnvironmentPrefix = "TERN_CHAT_";

    private static IReadOnlyList<string> SplitList(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string[] CheckSwitches(IReadOnlyList<string> args)
    {
        // The provider accepts any --key; an unknown one (a typo) must fail rather than be ignored.
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i].Split('=', 2)[0];
            if (!s_switches.ContainsKey(name))
            {
                throw new ChatOptionsException($"Unknown option '{name}'.");
            }

            if (args[i].Contains('=', StringComparison.Ordinal))
            {
                if (args[i].Length == name.Length + 1)
                {
                    throw new ChatOptionsException($"Option '{name}' needs a value.");
                }
            }
            else if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ChatOptionsException($"Option '{name}' needs a value.");
            }
            else
            {
                i++; // the value
            }
        }

        return [.. args];
    }

    private static string Describe(IConfiguration configuration, InvalidOperationException e)
    {
        // Name the setting in the user's terms: the switch and the environment variable.
        foreach ((string flag, string key) in s_switches)
        {
            if (e.Message.Contains($"'{key}'", StringComparison.Ordinal))
            {
                return $"'{configuration[key]}' is not a valid value for {flag} (or {EnvironmentPrefix}{key.ToUpperInvariant()}).";
            }
        }

        return e.Message;
    }
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
