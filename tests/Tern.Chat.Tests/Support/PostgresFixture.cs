using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Tern.Chat.Tests.Support;

/// <summary>
/// A throwaway PostgreSQL cluster for the tests of one collection: Debian's <c>postgresql</c> package (initdb and
/// pg_ctl), a data directory in a temp directory, a free loopback port, the socket in the temp directory, trust
/// authentication for the user <c>tern</c>. PostgreSQL refuses to run as root, so as root it runs as the
/// <c>postgres</c> user. Durability is switched off (fsync, synchronous commit): the data dies with the tests anyway.
/// Each test gets a database of its own from <see cref="CreateDatabaseAsync"/>.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private const string InstallHint = "The PostgreSQL store tests need PostgreSQL's server programs: run `apt-get install -y postgresql` (test.sh does), or set TERN_POSTGRES_BIN to the directory holding initdb and pg_ctl.";

    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromSeconds(60);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tern-pg-" + Guid.NewGuid().ToString("N"));
    private string _bin = "";
    private bool _started;
    private int _databases;

    /// <summary>The server's loopback port.</summary>
    public int Port { get; private set; }

    /// <summary>A connection string for <paramref name="database"/> on this server.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=tern;Database={database}";

    public async Task InitializeAsync()
    {
        _bin = FindBinaries() ?? throw new InvalidOperationException(InstallHint);
        Directory.CreateDirectory(_directory);
        bool asPostgresUser = Environment.UserName == "root";
        if (asPostgresUser)
        {
            await RunAsync("chown", ["postgres", _directory], asPostgresUser: false);
        }

        string data = Path.Combine(_directory, "data");
        await RunAsync(Path.Combine(_bin, "initdb"), ["-D", data, "-A", "trust", "-U", "tern", "-E", "UTF8", "--no-locale", "--no-sync"], asPostgresUser);
        Port = LoopbackPort.Free();
        await StartServerAsync();
    }

    /// <summary>
    /// Stops the server the way an operator's restart or a failover does (<c>pg_ctl stop -m fast</c>: every open
    /// connection is cut at once); <see cref="StartServerAsync"/> brings it back on the same port with the same data.
    /// </summary>
    public async Task StopServerAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_directory, "data"), "-m", "fast", "-w", "stop"], Environment.UserName == "root");
        _started = false;
    }

    /// <summary>Starts the server on <see cref="Port"/> (at the start, and again after <see cref="StopServerAsync"/>).</summary>
    public async Task StartServerAsync()
    {
        string serverOptions = $"-p {Port.ToString(CultureInfo.InvariantCulture)} -k {_directory} -c listen_addresses=127.0.0.1 " +
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200";
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_directory, "data"), "-o", serverOptions, "-l", Path.Combine(_directory, "log"), "-w", "-t", "60", "start"], Environment.UserName == "root");
        _started = true;
    }

    /// <summary>An empty database of its own (created from template0) and its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        string name = "tern_test_" + Interlocked.Increment(ref _databases).ToString(CultureInfo.InvariantCulture);
        await ExecuteAsync($"CREATE DATABASE {name} TEMPLATE template0;");
        return ConnectionString(name);
    }

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/>, closing whatever connections are left in it.</summary>
    public async Task DropDatabaseAsync(string connectionString)
    {
        string name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE);");
    }

    /// <summary>Runs SQL in the <c>postgres</c> database.</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_started)
            {
                await StopServerAsync();
            }
        }
        finally
        {
            if (Directory.Exists(_directory))
            {
                Directory.Delete(_directory, recursive: true);
            }
        }
    }

    /// <summary>The newest installed server's bin directory (Debian: /usr/lib/postgresql/VERSION/bin), or TERN_POSTGRES_BIN.</summary>
    private static string? FindBinaries()
    {
        if (Environment.GetEnvironmentVariable("TERN_POSTGRES_BIN") is { Length: > 0 } configured)
        {
            return File.Exists(Path.Combine(configured, "initdb")) ? configured : null;
        }

        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(version => Path.Combine(version, "bin"))
                .Where(bin => File.Exists(Path.Combine(bin, "initdb")))
                .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), out int major) ? major : 0)
                .FirstOrDefault()
            : null;
    }

    private static async Task RunAsync(string program, string[] arguments, bool asPostgresUser)
    {
        var start = new ProcessStartInfo(asPostgresUser ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgresUser)
        {
            foreach (string argument in (string[])["-u", "postgres", "--", program])
            {
                start.ArgumentList.Add(argument);
            }
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {program}.");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(s_commandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within {s_commandTimeout}.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await output}{await error}");
        }
    }
}

/// <summary>The tests that share one throwaway PostgreSQL cluster; they run one class at a time.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
