import ArgumentParser
import Tensor


struct IUMAD: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "iumad",
    abstract: "Incremental unified multimodal (RGB + depth) anomaly detection: IB-IUMAD on CPUs.",
    discussion: """
      Trains and evaluates IB-IUMAD on MVTec 3D-AD / Eyecandies layouts, in one process or as an \
      MPI data-parallel job (mpirun -np N iumad train ...). See README.md and docs/.
      """,
    version: IUMADVersion.string,
    subcommands: [Synth.self, DatasetCommand.self, TrainCommand.self, StudyCommand.self, BaselineCommand.self, EvaluateCommand.self, InferCommand.self, ConfigCommand.self,
                  BackboneCommand.self, ModelCommand.self, Bench.self]
  )
}
