using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Tern.Chat.Accounts;

namespace Tern.Chat.Storage;

/// <summary>
/// The tables of <see cref="SqliteChatDatabase"/> and the steps that bring an older database up to them. The version
/// lives in <c>PRAGMA user_version</c>; every step runs inside the start-up transaction, so a database is either fully
/// migrated or untouched.
/// </summary>
/// <remarks>
/// Versions: 0 is an empty file; 1 is the nickname-era history of <see cref="SqliteChatStore"/> (one table
/// <c>messages(room, nick, …)</c>); 2 has accounts and conversations. Times are unix milliseconds throughout.
/// </remarks>
internal static partial class SqliteSchema
{
    /// <summary>The version this code writes and reads.</summary>
    public const int CurrentVersion = 2;

    /// <summary>The version of the nickname-era schema.</summary>
    public const int NicknameVersion = 1;

    /// <summary>The meta key under which the history id is kept.</summary>
    private const string HistoryIdKey = "history_id";

    private const string Tables = """
        CREATE TABLE IF NOT EXISTS meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;

        -- AUTOINCREMENT everywhere an id leaves the database: an id a client or a session ever saw never names
        -- something else later.
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            username TEXT NOT NULL,
            username_key TEXT NOT NULL UNIQUE,
            skeleton TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            password_hash TEXT,
            created INTEGER NOT NULL
        );

        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            created INTEGER NOT NULL,
            last_seen INTEGER NOT NULL,
            expires INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX sessions_by_account ON sessions (account_id);
        CREATE INDEX sessions_by_expiry ON sessions (expires);

        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            name TEXT UNIQUE,
            account_a INTEGER REFERENCES accounts (id),
            account_b INTEGER REFERENCES accounts (id),
            created_by INTEGER REFERENCES accounts (id),
            created INTEGER NOT NULL,
            CHECK (kind = 'room' AND name IS NOT NULL AND account_a IS NULL AND account_b IS NULL
                OR kind = 'direct' AND name IS NULL AND account_a < account_b)
        );
        CREATE UNIQUE INDEX conversations_direct_pair ON conversations (account_a, account_b) WHERE kind = 'direct';

        CREATE TABLE members (
            conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            joined INTEGER NOT NULL,
            last_read_id INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (conversation_id, account_id)
        ) WITHOUT ROWID;
        CREATE INDEX members_by_account ON members (account_id, conversation_id);

        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            author_id INTEGER NOT NULL REFERENCES accounts (id),
            text TEXT NOT NULL,
            time INTEGER NOT NULL,
            edited INTEGER,
            deleted INTEGER NOT NULL DEFAULT 0,
            client_ref TEXT
        );
        CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
        -- A re-sent message (same author, conversation and client tag) is stored once.
        CREATE UNIQUE INDEX messages_by_client_ref ON messages (conversation_id, author_id, client_ref) WHERE client_ref IS NOT NULL;

        CREATE TABLE mentions (
            message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            PRIMARY KEY (message_id, account_id)
        ) WITHOUT ROWID;
        CREATE INDEX mentions_by_account ON mentions (account_id, message_id);

        -- The index reads its text from messages (external content), so the text is stored once. The triggers keep
        -- it in step: an external-content index forgets a row only when told its old text, which they pass.
        CREATE VIRTUAL TABLE messages_fts USING fts5 (
            text,
            content = 'messages',
            content_rowid = 'id',
            tokenize = 'unicode61 remove_diacritics 2',
            prefix = '2 3'
        );
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        """;

    /// <summary>
    /// Brings the database to <see cref="CurrentVersion"/> inside <paramref name="transaction"/> and returns its
    /// history id (created for a new database, kept for an old one).
    /// </summary>
    public static async Task<string> MigrateAsync(StoreTransaction transaction, string describedAs, CancellationToken cancellationToken)
    {
        long version = await transaction.ScalarAsync<long>("PRAGMA user_version;", cancellationToken).ConfigureAwait(false);
        if (version > CurrentVersion)
        {
            throw new InvalidOperationException($"{describedAs} was written by a newer Tern.Chat (schema {version}; this one knows {CurrentVersion}).");
        }

        if (version == 0)
        {
            await transaction.ExecuteAsync(Tables, cancellationToken).ConfigureAwait(false);
        }
        else if (version == NicknameVersion)
        {
            await MigrateFromNicknamesAsync(transaction, cancellationToken).ConfigureAwait(false);
        }

        if (version != CurrentVersion)
        {
            await transaction.ExecuteAsync($"PRAGMA user_version = {CurrentVersion};", cancellationToken).ConfigureAwait(false);
        }

        await transaction.ExecuteAsync("INSERT OR IGNORE INTO meta (key, value) VALUES ($key, $value);", cancellationToken,
            ("$key", HistoryIdKey), ("$value", Guid.NewGuid().ToString("N"))).ConfigureAwait(false);
        return await transaction.ScalarAsync<string>("SELECT value FROM meta WHERE key = $key;", cancellationToken, ("$key", HistoryIdKey)).ConfigureAwait(false);
    }

    /// <summary>
    /// Version 1 to 2: rooms become conversations, each author (nicknames equal ignoring case are one person) an
    /// account that cannot sign in, and messages keep their ids, so clients that resume after the upgrade (same
    /// history id) miss nothing and see nothing twice.
    /// </summary>
    private static async Task MigrateFromNicknamesAsync(StoreTransaction transaction, CancellationToken cancellationToken)
    {
        await transaction.ExecuteAsync("""
            DROP INDEX IF EXISTS messages_by_room;
            ALTER TABLE messages RENAME TO legacy_messages;
            """, cancellationToken).ConfigureAwait(false);
        await transaction.ExecuteAsync(Tables, cancellationToken).ConfigureAwait(false);

        // Authors, in order of their first message: the earliest spelling of a nickname becomes the username.
        var authors = await transaction.QueryAsync(
            "SELECT nick, MIN(time) FROM legacy_messages GROUP BY nick ORDER BY MIN(id);",
            r => (Nick: r.GetString(0), FirstTime: r.GetInt64(1)), cancellationToken).ConfigureAwait(false);
        var accountByKey = new Dictionary<string, long>(StringComparer.Ordinal);
        var usedKeys = new HashSet<string>(authors.Select(a => a.Nick.ToLowerInvariant()), StringComparer.Ordinal);
        var usedSkeletons = new HashSet<string>(StringComparer.Ordinal);
        await transaction.ExecuteAsync("CREATE TEMP TABLE legacy_authors (nick TEXT PRIMARY KEY, account_id INTEGER NOT NULL);", cancellationToken).ConfigureAwait(false);
        foreach ((string nick, long firstTime) in authors)
        {
            string key = nick.ToLowerInvariant();
            if (!accountByKey.TryGetValue(key, out long accountId))
            {
                string username = IsValidUsername(nick) ? nick : UniqueLegacyUsername(nick, usedKeys);
                string usernameKey = username.ToLowerInvariant();
                // The name's real skeleton, so that a new "lvan" cannot pass for an old "Ivan". Two old nicknames that
                // look alike (both existed before look-alikes were refused) cannot share one: the later one gets a
                // skeleton no name can have (':' is not a name character), which blocks nothing.
                string skeleton = UsernameSkeleton.Of(username);
                if (!usedSkeletons.Add(skeleton))
                {
                    skeleton = "legacy:" + usernameKey;
                }

                accountId = await transaction.ScalarAsync<long>("""
                    INSERT INTO accounts (username, username_key, skeleton, display_name, password_hash, created)
                    VALUES ($username, $key, $skeleton, $nick, NULL, $created) RETURNING id;
                    """, cancellationToken, ("$username", username), ("$key", usernameKey), ("$skeleton", skeleton), ("$nick", nick), ("$created", firstTime)).ConfigureAwait(false);
                accountByKey.Add(key, accountId);
            }

            await transaction.ExecuteAsync("INSERT INTO legacy_authors (nick, account_id) VALUES ($nick, $id);", cancellationToken,
                ("$nick", nick), ("$id", accountId)).ConfigureAwait(false);
        }

        // Client tags are dropped: the old page reused them across visits, and a re-send cannot span the upgrade.
        await transaction.ExecuteAsync("""
            INSERT INTO conversations (kind, name, created)
                SELECT 'room', room, MIN(time) FROM legacy_messages GROUP BY room ORDER BY MIN(id);
            INSERT INTO messages (id, conversation_id, author_id, text, time, edited, deleted, client_ref)
                SELECT l.id, c.id, a.account_id, l.text, l.time, NULL, 0, NULL
                FROM legacy_messages l
                JOIN conversations c ON c.kind = 'room' AND c.name = l.room
                JOIN legacy_authors a ON a.nick = l.nick
                ORDER BY l.id;
            -- The old sequence can be ahead of the last row (rows deleted by hand); ids must never be handed out twice.
            INSERT INTO sqlite_sequence (name, seq)
                SELECT 'messages', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages');
            UPDATE sqlite_sequence
                SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'legacy_messages'), 0))
                WHERE name = 'messages';
            DROP TABLE legacy_authors;
            DROP TABLE legacy_messages;
            """, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether a nickname also passes as a username (2 to 24 letters, digits, '-', '_', '.', starting with a letter or digit).</summary>
    private static bool IsValidUsername(string nick) => nick.Length is >= 2 and <= 24 && UsernamePattern().IsMatch(nick);

    /// <summary>A username for a nickname that is not a valid one (too short or too long): its start and a number.</summary>
    private static string UniqueLegacyUsername(string nick, HashSet<string> usedKeys)
    {
        int stemLength = Math.Min(nick.Length, 18);
        if (stemLength < nick.Length && char.IsHighSurrogate(nick[stemLength - 1]))
        {
            stemLength--;
        }

        string stem = nick[..stemLength];
        for (int n = 1; ; n++)
        {
            string candidate = stem + "-" + n.ToString(CultureInfo.InvariantCulture);
            if (usedKeys.Add(candidate.ToLowerInvariant()))
            {
                return candidate;
            }
        }
    }

    [GeneratedRegex(@"^[\p{L}\p{Nd}][\p{L}\p{M}\p{Nd}_.-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex UsernamePattern();
}
