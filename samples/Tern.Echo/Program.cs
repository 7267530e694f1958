System.Console.WriteLine("echo");
