public enum IUMADVersion {
  public static let string = "0.1.0"
}
