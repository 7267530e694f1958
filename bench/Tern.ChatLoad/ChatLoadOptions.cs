using Microsoft.Extensions.Configuration;

namespace Tern.ChatLoad;

/// <summary>What to run, read from the command line (<c>--clients 30 --senders 3</c>).</summary>
internal sealed class ChatLoadOptions
{
    public const string Usage = """
        tern-chatload: many accounts in one Tern.Chat room, on one node or several, measured.

        Usage: Tern.ChatLoad --urls http://127.0.0.1:P1/,http://127.0.0.1:P2/ [options]

          --urls <list>            Page addresses of the nodes (or of nginx); client i connects to the
                                   (i mod n)-th, so clients and senders are spread over the nodes.
          --reconnect-urls <list>  Where a client whose socket dropped connects again, rotating from the
                                   next one (default: --urls). Give nginx's address to reconnect through it.
          --signup-url <url>       Where the accounts sign up or in (default: the first of --urls).
          --sessions <file>        Keeps the accounts' session cookies between runs against the same
                                   database, so the Argon2 hashing of sign-up is paid once.
          --clients <n>            Accounts, one socket each, all in one room; every one receives. [30]
          --senders <n>            How many of them also send (clients 0..n-1, so spread over the nodes). [3]
          --window <n>             Closed loop: each sender keeps at most n messages unacknowledged (its
                                   own message event is the acknowledgement). [2]
          --rate <msg/s>           Open loop instead: the senders together send this many messages a
                                   second, whatever the acknowledgements (at most 5,000 pending each). [0]
          --warmup <s>             Sending before the measured window (checked, not measured). [2]
          --duration <s>           The measured window. [10]
          --text-length <n>        Characters per message text. [100]
          --kill-pid <pid>         SIGKILL this process (a node) --kill-after seconds into the window, and
                                   measure how its clients catch up. [none]
          --kill-after <s>         [3]
          --drain <s>              After sending stops, how long to wait for every client to hold every
                                   acknowledged message before counting the rest as lost. [20]
          --room <name>            The room (default: a new one per run).
          --prefix <name>          Account names are <prefix><i>. [load]

        Prints a summary and a last line 'RESULT key=value ...' for scripts. Exit status 0 when no
        acknowledged message was lost, duplicated or out of order for any client; 1 otherwise; 2 for bad
        options or a setup that failed.
        """;

    private static readonly Dictionary<string, string> s_switches = new(StringComparer.Ordinal)
    {
        ["--urls"] = nameof(Urls),
        ["--reconnect-urls"] = nameof(ReconnectUrls),
        ["--signup-url"] = nameof(SignUpUrl),
        ["--sessions"] = nameof(Sessions),
        ["--clients"] = nameof(Clients),
        ["--senders"] = nameof(Senders),
        ["--window"] = nameof(Window),
        ["--rate"] = nameof(Rate),
        ["--warmup"] = nameof(Warmup),
        ["--duration"] = nameof(Duration),
        ["--text-length"] = nameof(TextLength),
        ["--kill-pid"] = nameof(KillPid),
        ["--kill-after"] = nameof(KillAfter),
        ["--drain"] = nameof(Drain),
        ["--room"] = nameof(Room),
        ["--prefix"] = nameof(Prefix),
    };

    public string Urls { get; set; } = "";

    public string ReconnectUrls { get; set; } = "";

    public string SignUpUrl { get; set; } = "";

    public string Sessions { get; set; } = "";

    public int Clients { get; set; } = 30;

    public int Senders { get; set; } = 3;

    public int Window { get; set; } = 2;

    public double Rate { get; set; }

    public double Warmup { get; set; } = 2;

    public double Duration { get; set; } = 10;

    public int TextLength { get; set; } = 100;

    public int KillPid { get; set; }

    public double KillAfter { get; set; } = 3;

    public double Drain { get; set; } = 20;

    public string Room { get; set; } = "";

    public string Prefix { get; set; } = "load";

    public IReadOnlyList<Uri> NodeUrls => ParseUrls(Urls);

    public IReadOnlyList<Uri> ReconnectTargets => ReconnectUrls.Length > 0 ? ParseUrls(ReconnectUrls) : NodeUrls;

    public Uri SignUpTarget => SignUpUrl.Length > 0 ? new Uri(SignUpUrl) : NodeUrls[0];

    /// <summary>Reads the command line; throws <see cref="ArgumentException"/> with a sentence for people when it is wrong.</summary>
    public static ChatLoadOptions Parse(string[] args)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddCommandLine(args, s_switches).Build();
        var options = new ChatLoadOptions();
        configuration.Bind(options);
        if (options.NodeUrls.Count == 0)
        {
            throw new ArgumentException("--urls is required: the page addresses of the nodes, comma-separated.");
        }

        if (options.Clients < 1 || options.Senders < 1 || options.Senders > options.Clients)
        {
            throw new ArgumentException("Need 1 <= --senders <= --clients.");
        }

        if (options.Window < 1 || options.Rate < 0 || options.Duration <= 0 || options.Warmup < 0 || options.TextLength < 40)
        {
            throw new ArgumentException("--window >= 1, --rate >= 0, --duration > 0, --warmup >= 0 and --text-length >= 40, please.");
        }

        if (options.KillPid != 0 && (options.KillAfter <= 0 || options.KillAfter >= options.Duration))
        {
            throw new ArgumentException("--kill-after must fall inside the measured window (0 < kill-after < duration).");
        }

        return options;
    }

    private static List<Uri> ParseUrls(string list) =>
        [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(url => new Uri(url))];
}
