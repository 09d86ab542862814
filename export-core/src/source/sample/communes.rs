//! The built-in table of French communes the sample generator draws trip ends from.
//!
//! INSEE codes, names, départements, EPCI, regions and town-centre positions are those of real
//! communes; densities (inhabitants per km²) are rounded from recent census figures and the
//! mobility authority (AOM) is the one covering the commune, the region where no local authority
//! took the competence. The figures are for test data, not a reference.

use super::Commune;

const IDF: &str = "Île-de-France";
const ARA: &str = "Auvergne-Rhône-Alpes";
const PACA: &str = "Provence-Alpes-Côte d'Azur";
const HDF: &str = "Hauts-de-France";
const PDL: &str = "Pays de la Loire";
const BRE: &str = "Bretagne";
const OCC: &str = "Occitanie";
const NAQ: &str = "Nouvelle-Aquitaine";
const GES: &str = "Grand Est";
const CVL: &str = "Centre-Val de Loire";
const BFC: &str = "Bourgogne-Franche-Comté";
const NOR: &str = "Normandie";
const COR: &str = "Corse";

const IDFM: &str = "Île-de-France Mobilités";
const MGP: &str = "Métropole du Grand Paris";
const AMP: &str = "Métropole d'Aix-Marseille-Provence";
const MEL: &str = "Métropole Européenne de Lille";

/// Basins group communes whose inhabitants commute to each other.
pub(super) mod basin {
    pub const PARIS: u8 = 0;
    pub const LYON: u8 = 1;
    pub const PROVENCE: u8 = 2;
    pub const NORD: u8 = 3;
    pub const LOIRE: u8 = 4;
    pub const BRETAGNE: u8 = 5;
    pub const ALPES: u8 = 6;
    pub const TOULOUSE: u8 = 7;
    pub const SUD_OUEST: u8 = 8;
    pub const EST: u8 = 9;
    pub const LANGUEDOC: u8 = 10;
    pub const COTE_AZUR: u8 = 11;
    pub const CENTRE: u8 = 12;
    pub const BOURGOGNE: u8 = 13;
    pub const NORMANDIE: u8 = 14;
    pub const CORSE: u8 = 15;
    pub const COUNT: usize = 16;
}

use basin::*;

#[allow(clippy::too_many_arguments)]
const fn c(
    insee: &'static str,
    name: &'static str,
    departement: &'static str,
    epci: &'static str,
    aom: &'static str,
    region: &'static str,
    density: f64,
    lat: f64,
    lon: f64,
    weight: u32,
    basin: u8,
) -> Commune {
    Commune {
        insee,
        name,
        departement,
        epci,
        aom,
        region,
        country: "France",
        density,
        lat,
        lon,
        weight,
        basin,
    }
}

/// Weight of the communes that stay rare in small exports (fewer than 6 trips in a few
/// thousand); every other commune weighs at least twice as much.
pub(super) const RARE_WEIGHT: u32 = 15;

/// The communes, with their relative weight as a trip end and their basin.
#[rustfmt::skip]
pub(super) static COMMUNES: &[Commune] = &[
    // Île-de-France
    c("75056", "Paris", "75", MGP, IDFM, IDF, 20_360.0, 48.8566, 2.3522, 2600, PARIS),
    c("92012", "Boulogne-Billancourt", "92", MGP, IDFM, IDF, 19_600.0, 48.8397, 2.2399, 420, PARIS),
    c("92050", "Nanterre", "92", MGP, IDFM, IDF, 7_900.0, 48.8924, 2.2071, 380, PARIS),
    c("94028", "Créteil", "94", MGP, IDFM, IDF, 8_050.0, 48.7904, 2.4556, 360, PARIS),
    c("78646", "Versailles", "78", "CA Versailles Grand Parc", IDFM, IDF, 3_210.0, 48.8049, 2.1204, 330, PARIS),
    c("77284", "Meaux", "77", "CA du Pays de Meaux", IDFM, IDF, 3_650.0, 48.9601, 2.8788, 260, PARIS),
    c("91228", "Évry-Courcouronnes", "91", "CA Grand Paris Sud Seine-Essonne-Sénart", IDFM, IDF, 4_100.0, 48.6290, 2.4410, 280, PARIS),
    c("77186", "Fontainebleau", "77", "CA du Pays de Fontainebleau", IDFM, IDF, 88.0, 48.4047, 2.7016, 150, PARIS),
    // Lyon and Saint-Étienne
    c("69123", "Lyon", "69", "Métropole de Lyon", "SYTRAL Mobilités", ARA, 10_900.0, 45.7640, 4.8357, 1300, LYON),
    c("69266", "Villeurbanne", "69", "Métropole de Lyon", "SYTRAL Mobilités", ARA, 10_700.0, 45.7719, 4.8902, 420, LYON),
    c("69259", "Vénissieux", "69", "Métropole de Lyon", "SYTRAL Mobilités", ARA, 4_400.0, 45.6975, 4.8867, 300, LYON),
    c("42218", "Saint-Étienne", "42", "Saint-Étienne Métropole", "Saint-Étienne Métropole", ARA, 2_160.0, 45.4397, 4.3872, 360, LYON),
    // Provence
    c("13055", "Marseille", "13", AMP, AMP, PACA, 3_630.0, 43.2965, 5.3698, 1100, PROVENCE),
    c("13001", "Aix-en-Provence", "13", AMP, AMP, PACA, 790.0, 43.5297, 5.4474, 480, PROVENCE),
    c("83137", "Toulon", "83", "Métropole Toulon Provence Méditerranée", "Métropole Toulon Provence Méditerranée", PACA, 4_200.0, 43.1242, 5.9280, 420, PROVENCE),
    c("84007", "Avignon", "84", "CA du Grand Avignon", "CA du Grand Avignon", PACA, 1_400.0, 43.9493, 4.8055, 300, PROVENCE),
    c("84050", "Gordes", "84", "CC Luberon Monts de Vaucluse", "Région Sud", PACA, 33.0, 43.9117, 5.2003, 70, PROVENCE),
    c("04135", "Moustiers-Sainte-Marie", "04", "CC Lacs et Gorges du Verdon", "Région Sud", PACA, 8.0, 43.8467, 6.2217, 40, PROVENCE),
    c("05157", "Saint-Véran", "05", "CC du Guillestrois et du Queyras", "Région Sud", PACA, 5.0, 44.7014, 6.8686, RARE_WEIGHT, PROVENCE),
    // Côte d'Azur
    c("06088", "Nice", "06", "Métropole Nice Côte d'Azur", "Métropole Nice Côte d'Azur", PACA, 4_760.0, 43.7102, 7.2620, 700, COTE_AZUR),
    c("06004", "Antibes", "06", "CA Sophia Antipolis", "CA Sophia Antipolis", PACA, 2_800.0, 43.5804, 7.1251, 320, COTE_AZUR),
    c("06163", "Tende", "06", "CA de la Riviera Française", "CA de la Riviera Française", PACA, 12.0, 44.0875, 7.5942, 35, COTE_AZUR),
    // Nord
    c("59350", "Lille", "59", MEL, MEL, HDF, 6_800.0, 50.6292, 3.0573, 800, NORD),
    c("59512", "Roubaix", "59", MEL, MEL, HDF, 7_400.0, 50.6942, 3.1746, 300, NORD),
    c("59599", "Tourcoing", "59", MEL, MEL, HDF, 6_500.0, 50.7239, 3.1612, 280, NORD),
    c("59183", "Dunkerque", "59", "CU de Dunkerque", "CU de Dunkerque", HDF, 1_970.0, 51.0343, 2.3768, 260, NORD),
    c("62041", "Arras", "62", "CU d'Arras", "CU d'Arras", HDF, 3_500.0, 50.2910, 2.7775, 200, NORD),
    c("80021", "Amiens", "80", "CA Amiens Métropole", "CA Amiens Métropole", HDF, 2_700.0, 49.8941, 2.2958, 300, NORD),
    // Loire
    c("44109", "Nantes", "44", "Nantes Métropole", "Nantes Métropole", PDL, 4_900.0, 47.2184, -1.5536, 800, LOIRE),
    c("44184", "Saint-Nazaire", "44", "CA de la Région Nazairienne et de l'Estuaire", "CA de la Région Nazairienne et de l'Estuaire", PDL, 1_540.0, 47.2735, -2.2138, 240, LOIRE),
    c("49007", "Angers", "49", "CU Angers Loire Métropole", "CU Angers Loire Métropole", PDL, 3_680.0, 47.4784, -0.5632, 380, LOIRE),
    c("72181", "Le Mans", "72", "Le Mans Métropole", "Le Mans Métropole", PDL, 2_740.0, 48.0061, 0.1996, 340, LOIRE),
    // Bretagne
    c("35238", "Rennes", "35", "Rennes Métropole", "Rennes Métropole", BRE, 4_400.0, 48.1173, -1.6778, 700, BRETAGNE),
    c("35288", "Saint-Malo", "35", "Saint-Malo Agglomération", "Saint-Malo Agglomération", BRE, 1_280.0, 48.6493, -2.0257, 200, BRETAGNE),
    c("29019", "Brest", "29", "Brest Métropole", "Brest Métropole", BRE, 2_830.0, 48.3904, -4.4861, 380, BRETAGNE),
    c("56121", "Lorient", "56", "Lorient Agglomération", "Lorient Agglomération", BRE, 3_260.0, 47.7482, -3.3702, 220, BRETAGNE),
    c("35211", "Paimpont", "35", "CC de Brocéliande", "Région Bretagne", BRE, 15.0, 48.0186, -2.1717, 60, BRETAGNE),
    c("29155", "Ouessant", "29", "CC du Pays d'Iroise", "Région Bretagne", BRE, 53.0, 48.4597, -5.0961, RARE_WEIGHT, BRETAGNE),
    // Alpes
    c("38185", "Grenoble", "38", "Grenoble-Alpes-Métropole", "SMMAG", ARA, 8_700.0, 45.1885, 5.7245, 700, ALPES),
    c("38421", "Saint-Martin-d'Hères", "38", "Grenoble-Alpes-Métropole", "SMMAG", ARA, 4_100.0, 45.1672, 5.7653, 260, ALPES),
    c("38442", "Saint-Pierre-de-Chartreuse", "38", "CC Cœur de Chartreuse", "Région Auvergne-Rhône-Alpes", ARA, 15.0, 45.3419, 5.8153, 60, ALPES),
    c("73065", "Chambéry", "73", "Grand Chambéry", "Grand Chambéry", ARA, 2_850.0, 45.5646, 5.9178, 330, ALPES),
    c("74010", "Annecy", "74", "CA du Grand Annecy", "CA du Grand Annecy", ARA, 1_950.0, 45.8992, 6.1294, 400, ALPES),
    c("74056", "Chamonix-Mont-Blanc", "74", "CC de la Vallée de Chamonix-Mont-Blanc", "CC de la Vallée de Chamonix-Mont-Blanc", ARA, 35.0, 45.9237, 6.8694, 90, ALPES),
    c("73304", "Val-d'Isère", "73", "CC de Haute-Tarentaise", "Région Auvergne-Rhône-Alpes", ARA, 17.0, 45.4486, 6.9797, 40, ALPES),
    // Toulouse
    c("31555", "Toulouse", "31", "Toulouse Métropole", "Tisséo Collectivités", OCC, 4_260.0, 43.6047, 1.4442, 1100, TOULOUSE),
    c("31069", "Blagnac", "31", "Toulouse Métropole", "Tisséo Collectivités", OCC, 1_500.0, 43.6373, 1.3906, 300, TOULOUSE),
    c("31149", "Colomiers", "31", "Toulouse Métropole", "Tisséo Collectivités", OCC, 1_900.0, 43.6112, 1.3349, 280, TOULOUSE),
    c("82121", "Montauban", "82", "CA du Grand Montauban", "CA du Grand Montauban", OCC, 450.0, 44.0176, 1.3550, 220, TOULOUSE),
    c("46240", "Rocamadour", "46", "CC Causses et Vallée de la Dordogne", "Région Occitanie", OCC, 13.0, 44.7992, 1.6178, 40, TOULOUSE),
    c("65192", "Gavarnie-Gèdre", "65", "CC Pyrénées Vallées des Gaves", "Région Occitanie", OCC, 1.5, 42.7878, -0.0206, RARE_WEIGHT, TOULOUSE),
    // Sud-Ouest
    c("33063", "Bordeaux", "33", "Bordeaux Métropole", "Bordeaux Métropole", NAQ, 5_290.0, 44.8378, -0.5792, 900, SUD_OUEST),
    c("33281", "Mérignac", "33", "Bordeaux Métropole", "Bordeaux Métropole", NAQ, 1_520.0, 44.8386, -0.6436, 320, SUD_OUEST),
    c("64445", "Pau", "64", "CA Pau Béarn Pyrénées", "CA Pau Béarn Pyrénées", NAQ, 2_400.0, 43.2951, -0.3708, 260, SUD_OUEST),
    c("87085", "Limoges", "87", "CU Limoges Métropole", "CU Limoges Métropole", NAQ, 1_680.0, 45.8336, 1.2611, 300, SUD_OUEST),
    c("86194", "Poitiers", "86", "CU du Grand Poitiers", "CU du Grand Poitiers", NAQ, 2_110.0, 46.5802, 0.3404, 280, SUD_OUEST),
    c("17300", "La Rochelle", "17", "CA de La Rochelle", "CA de La Rochelle", NAQ, 2_740.0, 46.1603, -1.1511, 260, SUD_OUEST),
    c("24172", "Les Eyzies", "24", "CC de la Vallée de l'Homme", "Région Nouvelle-Aquitaine", NAQ, 22.0, 44.9367, 1.0106, 40, SUD_OUEST),
    // Est
    c("67482", "Strasbourg", "67", "Eurométropole de Strasbourg", "Eurométropole de Strasbourg", GES, 3_720.0, 48.5734, 7.7521, 800, EST),
    c("68224", "Mulhouse", "68", "Mulhouse Alsace Agglomération", "Mulhouse Alsace Agglomération", GES, 4_860.0, 47.7508, 7.3359, 320, EST),
    c("57463", "Metz", "57", "Metz Métropole", "Metz Métropole", GES, 2_870.0, 49.1193, 6.1757, 360, EST),
    c("54395", "Nancy", "54", "Métropole du Grand Nancy", "Métropole du Grand Nancy", GES, 6_950.0, 48.6921, 6.1844, 360, EST),
    c("51454", "Reims", "51", "CU du Grand Reims", "CU du Grand Reims", GES, 3_830.0, 49.2583, 4.0317, 380, EST),
    c("52140", "Colombey-les-Deux-Églises", "52", "CC des Trois Forêts", "Région Grand Est", GES, 10.0, 48.2222, 4.8861, RARE_WEIGHT, EST),
    // Languedoc
    c("34172", "Montpellier", "34", "Montpellier Méditerranée Métropole", "Montpellier Méditerranée Métropole", OCC, 5_300.0, 43.6108, 3.8767, 750, LANGUEDOC),
    c("30189", "Nîmes", "30", "CA de Nîmes Métropole", "CA de Nîmes Métropole", OCC, 920.0, 43.8367, 4.3601, 360, LANGUEDOC),
    c("66136", "Perpignan", "66", "CU Perpignan Méditerranée Métropole", "CU Perpignan Méditerranée Métropole", OCC, 1_760.0, 42.6887, 2.8948, 300, LANGUEDOC),
    c("34261", "Saint-Guilhem-le-Désert", "34", "CC Vallée de l'Hérault", "Région Occitanie", OCC, 6.0, 43.7331, 3.5494, 30, LANGUEDOC),
    c("48096", "Meyrueis", "48", "CC Gorges Causses Cévennes", "Région Occitanie", OCC, 6.0, 44.1794, 3.4297, 30, LANGUEDOC),
    // Centre
    c("45234", "Orléans", "45", "Orléans Métropole", "Orléans Métropole", CVL, 4_250.0, 47.9030, 1.9093, 380, CENTRE),
    c("37261", "Tours", "37", "Tours Métropole Val de Loire", "Tours Métropole Val de Loire", CVL, 3_980.0, 47.3941, 0.6848, 380, CENTRE),
    c("63113", "Clermont-Ferrand", "63", "Clermont Auvergne Métropole", "SMTC de l'agglomération clermontoise", ARA, 3_450.0, 45.7772, 3.0870, 380, CENTRE),
    // Bourgogne, Franche-Comté
    c("21231", "Dijon", "21", "Dijon Métropole", "Dijon Métropole", BFC, 3_940.0, 47.3220, 5.0415, 400, BOURGOGNE),
    c("25056", "Besançon", "25", "Grand Besançon Métropole", "Grand Besançon Métropole", BFC, 1_830.0, 47.2378, 6.0241, 330, BOURGOGNE),
    c("89446", "Vézelay", "89", "CC Avallon-Vézelay-Morvan", "Région Bourgogne-Franche-Comté", BFC, 19.0, 47.4664, 3.7442, 30, BOURGOGNE),
    // Normandie
    c("76540", "Rouen", "76", "Métropole Rouen Normandie", "Métropole Rouen Normandie", NOR, 5_330.0, 49.4432, 1.0999, 420, NORMANDIE),
    c("14118", "Caen", "14", "CU Caen la Mer", "CU Caen la Mer", NOR, 4_200.0, 49.1829, -0.3707, 380, NORMANDIE),
    // Corse
    c("2A004", "Ajaccio", "2A", "CA du Pays Ajaccien", "CA du Pays Ajaccien", COR, 890.0, 41.9192, 8.7386, 160, CORSE),
];

/// Registry incentive campaigns, one per basin (index = basin), then the national one.
pub(super) struct Campaign {
    pub id: i64,
    pub name: &'static str,
    pub siret: &'static str,
    pub payer: &'static str,
}

const fn camp(id: i64, name: &'static str, siret: &'static str, payer: &'static str) -> Campaign {
    Campaign {
        id,
        name,
        siret,
        payer,
    }
}

pub(super) static CAMPAIGNS: [Campaign; COUNT + 1] = [
    camp(
        101,
        "Covoiturage en Île-de-France 2026",
        "28750007800020",
        IDFM,
    ),
    camp(
        102,
        "Covoiturage SYTRAL 2026",
        "20004697700019",
        "SYTRAL Mobilités",
    ),
    camp(
        103,
        "Covoiturage Aix-Marseille-Provence",
        "20005487800013",
        AMP,
    ),
    camp(104, "Covoiturage MEL", "20009379300018", MEL),
    camp(
        105,
        "Nantes Métropole covoiturage",
        "24440040400013",
        "Nantes Métropole",
    ),
    camp(
        106,
        "Rennes Métropole covoiturage",
        "24350013900189",
        "Rennes Métropole",
    ),
    camp(107, "M covoit' Grenoble", "20008478500017", "SMMAG"),
    camp(
        108,
        "Tisséo covoiturage",
        "25310024600034",
        "Tisséo Collectivités",
    ),
    camp(
        109,
        "Bordeaux Métropole covoiturage",
        "24330031600011",
        "Bordeaux Métropole",
    ),
    camp(
        110,
        "Grand Est covoiturage",
        "20005226400013",
        "Région Grand Est",
    ),
    camp(
        111,
        "Montpellier covoiturage",
        "24340017200012",
        "Montpellier Méditerranée Métropole",
    ),
    camp(
        112,
        "Nice Côte d'Azur covoiturage",
        "20003013600014",
        "Métropole Nice Côte d'Azur",
    ),
    camp(
        113,
        "Centre-Val de Loire covoiturage",
        "23450002300028",
        "Région Centre-Val de Loire",
    ),
    camp(
        114,
        "Bourgogne-Franche-Comté covoiturage",
        "20005372800014",
        "Région Bourgogne-Franche-Comté",
    ),
    camp(
        115,
        "Normandie covoiturage",
        "20005376700014",
        "Région Normandie",
    ),
    camp(
        116,
        "Corse covoiturage",
        "20007654400013",
        "Collectivité de Corse",
    ),
    camp(
        900,
        "Coup de pouce covoiturage courte distance (CEE)",
        "13002616300012",
        "Ministère de la Transition écologique",
    ),
];

/// Operators: id, display name, proof class, relative weight, id prefix.
pub(super) struct Operator {
    pub id: i64,
    pub name: &'static str,
    pub class: &'static str,
    pub weight: u32,
    pub prefix: &'static str,
    pub siret: &'static str,
}

const fn op(
    id: i64,
    name: &'static str,
    class: &'static str,
    weight: u32,
    prefix: &'static str,
    siret: &'static str,
) -> Operator {
    Operator {
        id,
        name,
        class,
        weight,
        prefix,
        siret,
    }
}

pub(super) static OPERATORS: &[Operator] = &[
    op(1, "BlaBlaCar Daily", "C", 34, "bbcd", "49115886600032"),
    op(2, "Karos", "C", 24, "karos", "80923457600028"),
    op(3, "Mobicoop", "C", 10, "mobicoop", "82195422500017"),
    op(4, "Klaxit", "C", 8, "klaxit", "81207562800035"),
    op(5, "Ecov", "B", 7, "ecov", "80283631200026"),
    op(6, "Rezo Pouce", "A", 3, "rezopouce", "81436578100011"),
    op(7, "Ridygo", "C", 5, "ridygo", "82410329200021"),
    op(8, "Covoit'ici", "B", 9, "covoitici", "80283631200042"),
];
