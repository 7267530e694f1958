using System.Text;

namespace Tern.Tests.Conformance;

/// <summary>
/// The five kinds of data of Autobahn's category 12, generated here instead of read from its test files (a JSON file,
/// a bitmap, Goethe's Faust, an HTML page, a PDF): from very compressible to not at all, text and binary.
/// </summary>
public enum PayloadKind
{
    /// <summary>12.1: JSON records, as a chat or an API sends them (text).</summary>
    Json = 1,

    /// <summary>12.2: an 8-bit greyscale bitmap with gradients, flat areas and grain (binary).</summary>
    Bitmap = 2,

    /// <summary>12.3: prose in several scripts, so full of 2-, 3- and 4-byte UTF-8 characters (text).</summary>
    Prose = 3,

    /// <summary>12.4: an HTML page of repeated markup (text).</summary>
    Html = 4,

    /// <summary>12.5: random bytes, which deflate cannot shrink, like a compressed PDF (binary).</summary>
    Noise = 5,
}

/// <summary>
/// Messages of each <see cref="PayloadKind"/>: consecutive slices of a 256 KiB corpus, taken in turn as Autobahn takes
/// them from its test file, so that no two messages of a batch are the same and context takeover has history to use.
/// Text slices are cut to valid UTF-8 (a character cut at either end becomes '*').
/// </summary>
internal static class CompressionPayloads
{
    private const int CorpusSize = 256 * 1024;

    private static readonly Lazy<byte[]>[] Corpora =
    [
        new(() => Text(JsonRecord)),
        new(Bitmap),
        new(() => Text(ProseSentence)),
        new(() => Text(HtmlBlock)),
        new(() =>
        {
            var noise = new byte[CorpusSize];
            new Random(5).NextBytes(noise);
            return noise;
        }),
    ];

    public static int Opcode(PayloadKind kind) => kind is PayloadKind.Bitmap or PayloadKind.Noise ? Op.Binary : Op.Text;

    /// <summary>Whether deflate shrinks this kind, so that a server compressing its messages is expected to.</summary>
    public static bool Compressible(PayloadKind kind) => kind != PayloadKind.Noise;

    /// <summary><paramref name="count"/> messages of <paramref name="size"/> bytes, starting at slice <paramref name="first"/>.</summary>
    public static IEnumerable<byte[]> Messages(PayloadKind kind, int size, int count, int first = 0)
    {
        byte[] corpus = Corpora[(int)kind - 1].Value;
        for (int i = first; i < first + count; i++)
        {
            var message = new byte[size];
            long start = (long)i * size % corpus.Length;
            for (int filled = 0; filled < size;)
            {
                int take = (int)Math.Min(size - filled, corpus.Length - start);
                corpus.AsSpan((int)start, take).CopyTo(message.AsSpan(filled));
                filled += take;
                start = 0;
            }

            if (Opcode(kind) == Op.Text)
            {
                MendCutCharacters(message);
            }

            yield return message;
        }
    }

    private static void MendCutCharacters(Span<byte> text)
    {
        // A slice starts and ends anywhere in the corpus (whose own ends are character boundaries).
        for (int i = 0; i < text.Length && (text[i] & 0xC0) == 0x80; i++)
        {
            text[i] = (byte)'*';
        }

        for (int back = 1; back <= Math.Min(3, text.Length); back++)
        {
            byte b = text[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }

            int length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            if (length > back)
            {
                text[^back..].Fill((byte)'*');
            }

            break;
        }
    }

    private static byte[] Text(Func<Random, string> next)
    {
        var random = new Random(1);
        var text = new StringBuilder(CorpusSize);
        while (Encoding.UTF8.GetByteCount(text.ToString()) < CorpusSize)
        {
            for (int i = 0; i < 64; i++)
            {
                text.Append(next(random));
            }
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static readonly string[] Words =
    [
        "tern", "harbour", "message", "socket", "window", "deflate", "north", "river", "Grüße", "Straße", "über", "Faust",
        "Γειά", "σου", "κόσμε", "привет", "мир", "こんにちは", "世界", "你好", "안녕하세요", "😀", "🐦", "€", "𐍈", "naïve", "café",
    ];

    private static string Word(Random random) => Words[random.Next(Words.Length)];

    private static string JsonRecord(Random random)
    {
        string reactions = string.Join(',', Enumerable.Range(0, random.Next(3)).Select(_ => $"\"{Word(random)}\""));
        return $"{{\"type\":\"message\",\"id\":{random.Next(1_000_000)},\"room\":\"room-{random.Next(20)}\",\"from\":\"user{random.Next(500)}\"," +
            $"\"sentAt\":\"2026-12-03T{random.Next(24):D2}:{random.Next(60):D2}:{random.Next(60):D2}Z\",\"text\":\"{Word(random)} {Word(random)} {Word(random)}\"," +
            $"\"reactions\":[{reactions}],\"edited\":{(random.Next(2) == 0 ? "false" : "true")}}}\n";
    }

    private static string ProseSentence(Random random) =>
        string.Join(' ', Enumerable.Range(0, 4 + random.Next(12)).Select(_ => Word(random))) + (random.Next(4) == 0 ? ".\n" : ". ");

    private static string HtmlBlock(Random random) =>
        $"""<div class="post" id="p{random.Next(100_000)}"><span class="author">{Word(random)}</span><p>{Word(random)} {Word(random)}</p><a href="/t/{random.Next(1000)}">reply</a></div>""" + "\n";

    private static byte[] Bitmap()
    {
        // 512 x 512 pixels of 8 bits: a smooth gradient, flat bands, and a grainy region, repeated to the corpus size.
        var random = new Random(2);
        var image = new byte[CorpusSize];
        for (int i = 0; i < image.Length; i++)
        {
            int x = i % 512, y = i / 512 % 512;
            image[i] = (y / 64 % 3) switch
            {
                0 => (byte)((x + y) / 4),
                1 => (byte)(x / 128 * 60),
                _ => (byte)(128 + random.Next(-6, 7)),
            };
        }

        return image;
    }
}
