/// A problem with the files, data or configuration a command was given, not with its flags:
/// ArgumentParser prints it as "Error: …" and exits with status 1, without the usage banner it
/// adds to a `ValidationError` (usage is for bad flags).
struct InputError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
